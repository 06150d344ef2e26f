"""Separating and writing under faults: NaN models, full disks, loud stems, cut inputs, signals.

Each test reproduces one case of the reliability issue (docs/troubleshooting.md): a model whose
output is NaN, a disk that fills up mid-stem or at the encoder's final flush, float input above
full scale, a WAV shorter than its header says, and SIGTERM/SIGHUP mid-run. The outcome is
always one line on stderr, and never a half-written stem or a leftover temporary file.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from splifft.cli import main
from splifft_core.plugins import PluginHost
from tests.fake_plugins import faulty, identity
from tests.helpers import REPO, splifft_env

RATE = 44100


@pytest.fixture
def hosts(plugin_host: Callable[..., PluginHost]) -> PluginHost:
    return plugin_host(identity, faulty)


def write(path: Path, data: np.ndarray, rate: int = RATE, subtype: str = "FLOAT") -> Path:
    sf.write(str(path), data, rate, subtype=subtype)
    return path


def noise(seconds: float, scale: float = 0.1, rate: int = RATE, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal((int(seconds * rate), 2))).astype(np.float32)


def files_under(folder: Path) -> list[Path]:
    """Every file below `folder`, hidden `.part` files included."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main([*args, "-q"])
    return code, capsys.readouterr().err.strip().splitlines()


def one_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, lines = run(args, capsys)
    assert code == 1, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("splifft: error: "), lines
    return lines[0]


# -- 3. a model that produces NaN or infinities -------------------------------------------------


@pytest.mark.parametrize(
    ("file_format", "bit_depth"), [("wav", "32"), ("wav", "24"), ("flac", "24")]
)
def test_nan_model_output_is_one_line_naming_model_and_time_and_writes_nothing(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file_format: str,
    bit_depth: str,
) -> None:
    # before: 32-bit float got all-NaN stems, 24-bit full-scale -1.0, FLAC an AssertionError
    audio = noise(3.0, scale=0.01)
    audio[int(2.0 * RATE), 0] = 0.9  # the fake network turns samples above 0.5 into NaN
    song = write(tmp_path / "song.wav", audio)
    out = tmp_path / "out"
    args = ["run", str(song), "-o", str(out), "-m", "faulty-test-nan", "--format", file_format]
    err = one_error([*args, "--bit-depth", bit_depth], capsys)
    assert err == (
        "splifft: error: model 'faulty-test-nan' produced NaN or infinite values at 0:02.0 "
        "(stem vocals; broken or mismatched weights?)"
    )
    assert files_under(out) == []


def test_nan_output_in_reduced_precision_suggests_float32(
    hosts: PluginHost, tmp_path: Path
) -> None:
    from splifft_core.api import load
    from splifft_core.errors import ModelOutputError

    separator = load("faulty-test-nan", precision="bfloat16")
    audio = noise(1.0, scale=0.01).T.copy()
    audio[1, 30000] = -0.9
    with pytest.raises(ModelOutputError, match=r"at 0:00\.7 \(stem vocals; bfloat16 can overflow"):
        separator.separate(audio, RATE)


# -- 4. a disk that fills up --------------------------------------------------------------------


def _is_stem(file: sf.SoundFile) -> bool:
    return str(file.name).endswith(".part")


@pytest.mark.parametrize("file_format", ["wav", "flac"])
@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), os.strerror(errno.ENOSPC)),
        (sf.LibsndfileError(2), "System error"),
    ],
    ids=["oserror", "libsndfile"],
)
def test_disk_full_mid_stem_is_one_line_and_leaves_nothing(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    file_format: str,
    error: BaseException,
    reason: str,
) -> None:
    # before: a `LibsndfileError: System error` traceback
    song = write(tmp_path / "song.wav", noise(2.0))
    real_write = sf.SoundFile.write
    calls = {"n": 0}

    def full_disk(self: sf.SoundFile, data: np.ndarray) -> None:
        if _is_stem(self):
            calls["n"] += 1
            if calls["n"] == 4:  # the second block of the second stem
                raise error
        real_write(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", full_disk)
    out = tmp_path / "out"
    args = ["run", str(song), "-o", str(out), "-m", "faulty-test-unity", "--format", file_format]
    err = one_error([*args, "--chunk-size", "65536"], capsys)
    stem = out / "song" / f"other.{file_format}"
    assert err == f"splifft: error: {stem}: cannot write output ({reason})"
    assert files_under(out) == []


def test_failed_close_of_the_last_stem_renames_no_stem(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    song = write(tmp_path / "song.wav", noise(1.0))
    real_close = sf.SoundFile.close

    def failing_close(self: sf.SoundFile) -> None:
        if not self.closed and ".other.flac." in str(self.name):
            real_close(self)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_close(self)

    monkeypatch.setattr(sf.SoundFile, "close", failing_close)
    out = tmp_path / "out"
    err = one_error(["run", str(song), "-o", str(out), "-m", "faulty-test-unity"], capsys)
    assert err.endswith("other.flac: cannot write output (No space left on device)")
    assert files_under(out) == []  # vocals.flac closed fine, but is not renamed into place


@pytest.mark.parametrize("file_format", ["wav", "flac"])
def test_final_flush_lost_without_an_error_is_caught(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    file_format: str,
) -> None:
    # before: exit 0 with a truncated, undecodable FLAC (libsndfile drops the final flush's error)
    song = write(tmp_path / "song.wav", noise(1.0))
    real_close = sf.SoundFile.close

    def lossy_close(self: sf.SoundFile) -> None:
        name, stem = str(self.name), not self.closed and self.mode == "w" and _is_stem(self)
        real_close(self)
        if stem and ".vocals." in name:
            with open(name, "r+b") as f:
                f.truncate(os.path.getsize(name) - 1000)

    monkeypatch.setattr(sf.SoundFile, "close", lossy_close)
    out = tmp_path / "out"
    args = ["run", str(song), "-o", str(out), "-m", "faulty-test-unity", "--format", file_format]
    err = one_error(args, capsys)
    assert err == (
        f"splifft: error: {out / 'song' / f'vocals.{file_format}'}: cannot write output "
        "(the file is incomplete after closing)"
    )
    assert files_under(out) == []


@pytest.fixture
def faulty_site(tmp_path: Path) -> Path:
    """A path entry declaring `tests.fake_plugins.faulty` as an installed splifft plugin."""
    site = tmp_path / "site"
    info = site / "faulty-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: faulty\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[splifft]\nfaulty = tests.fake_plugins.faulty\n")
    return site


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE semantics")
def test_real_write_failure_at_the_flac_encoders_final_flush(
    tmp_path: Path, faulty_site: Path
) -> None:
    """A kernel-level write failure (RLIMIT_FSIZE: EFBIG) during the FLAC encoder's last frame,
    which libsndfile's sf_close does not report."""
    import resource

    song = write(tmp_path / "song.wav", noise(1.5))
    env = splifft_env([faulty_site], {"SPLIFFT_PLUGINS": "faulty"})
    args = [sys.executable, "-m", "splifft", "run", str(song), "-m", "faulty-test-unity"]
    args += ["--stems", "vocals", "-q"]
    full = subprocess.run(
        [*args, "-o", str(tmp_path / "full")], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert full.returncode == 0, full.stderr
    size = (tmp_path / "full" / "song" / "vocals.flac").stat().st_size

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (size - 1, resource.RLIM_INFINITY))

    out = tmp_path / "out"
    cut = subprocess.run(
        [*args, "-o", str(out)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        preexec_fn=limit_file_size,
    )
    lines = cut.stderr.strip().splitlines()
    assert cut.returncode == 1 and len(lines) == 1, cut.stderr
    assert lines[0] == (
        f"splifft: error: {out / 'song' / 'vocals.flac'}: cannot write output "
        "(the file is incomplete after closing)"
    )
    assert files_under(out) == []


# -- 5. stems above full scale ------------------------------------------------------------------


def loud(seconds: float = 2.0) -> np.ndarray:
    """A 440 Hz tone at 5.1 × full scale (most samples beyond ±1), plus a little noise."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = 5.0 * np.sin(2 * np.pi * 440 * t)
    audio = np.stack([tone, -tone], axis=1) + noise(seconds, scale=0.01)
    audio[RATE // 2, 0] = 5.1
    return np.asarray(audio, dtype=np.float32)


@pytest.mark.parametrize(
    ("file_format", "bit_depth"), [("wav", "24"), ("flac", "16"), ("wav", "32")]
)
def test_loud_stems_are_rescaled_by_one_factor_by_default(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file_format: str,
    bit_depth: str,
) -> None:
    # before: 78 % of the samples hard-clipped in 24-bit PCM, no word said
    audio = loud()
    song = write(tmp_path / "song.wav", audio)
    out = tmp_path / "out"
    args = ["run", str(song), "-o", str(out), "-m", "faulty-test-unity", "--format", file_format]
    code, lines = run([*args, "--bit-depth", bit_depth], capsys)
    assert code == 0, lines
    assert lines == [
        f"splifft: warning: {song}: stems peak at 5.10, rescaled by 0.196 to avoid clipping "
        "(--clip-mode)"
    ]
    vocals, _ = sf.read(str(out / "song" / f"vocals.{file_format}"), dtype="float32")
    other, _ = sf.read(str(out / "song" / f"other.{file_format}"), dtype="float32")
    scale = 1 / 5.1
    tolerance = 2.0**-14 if bit_depth == "16" else 1e-6
    assert np.abs(vocals - scale * audio).max() < tolerance  # vocals: gain 1
    assert np.abs(other - 0.5 * scale * audio).max() < tolerance  # other: gain 0.5, same factor
    assert np.abs(vocals).max() <= 1.0
    assert [p.name for p in files_under(out)] == [f"other.{file_format}", f"vocals.{file_format}"]


def test_clamp_clips_and_says_how_much(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audio = loud()
    song = write(tmp_path / "song.wav", audio)
    out = tmp_path / "out"
    args = ["run", str(song), "-o", str(out), "-m", "faulty-test-unity", "--format", "wav"]
    code, lines = run([*args, "--bit-depth", "32", "--clip-mode", "clamp"], capsys)
    assert code == 0, lines
    beyond = np.count_nonzero(np.abs(audio) > 1) + np.count_nonzero(np.abs(audio / 2) > 1)
    share = 100 * beyond / (2 * audio.size)
    assert lines == [
        f"splifft: warning: {song}: stems peak at 5.10; {share:.1f} % of samples clipped "
        "(--clip-mode clamp)"
    ]
    vocals, _ = sf.read(str(out / "song" / "vocals.wav"), dtype="float32")
    np.testing.assert_allclose(vocals, np.clip(audio, -1, 1), atol=1e-6)


def test_clip_mode_none_keeps_floats_and_warns_when_pcm_clips(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audio = loud()
    song = write(tmp_path / "song.wav", audio)
    args = ["run", str(song), "-m", "faulty-test-unity", "--format", "wav", "--clip-mode", "none"]
    code, lines = run([*args, "-o", str(tmp_path / "float"), "--bit-depth", "32"], capsys)
    assert code == 0 and lines == []
    vocals, _ = sf.read(str(tmp_path / "float" / "song" / "vocals.wav"), dtype="float32")
    np.testing.assert_allclose(vocals, audio, atol=1e-5)  # 5.1 stays 5.1
    code, lines = run([*args, "-o", str(tmp_path / "pcm"), "--bit-depth", "24"], capsys)
    assert code == 0 and len(lines) == 1
    assert lines[0].endswith("% of samples clipped (--clip-mode none)")
    vocals, _ = sf.read(str(tmp_path / "pcm" / "song" / "vocals.wav"), dtype="float32")
    np.testing.assert_allclose(vocals, np.clip(audio, -1, 1), atol=1e-6)


def test_separate_file_api_clip_mode_and_notify(hosts: PluginHost, tmp_path: Path) -> None:
    from splifft_core.api import load
    from splifft_core.errors import ConfigError

    separator = load("faulty-test-unity")
    song = write(tmp_path / "song.wav", noise(1.0))
    heard: list[str] = []
    separator.separate_file(song, tmp_path / "quiet", notify=heard.append)
    assert heard == []  # nothing beyond full scale: nothing said, encoded once
    assert [p.name for p in files_under(tmp_path / "quiet")] == ["other.flac", "vocals.flac"]
    with pytest.raises(ConfigError, match="clip mode 'wrap' is not one of rescale, clamp, none"):
        separator.separate_file(song, tmp_path / "x", clip_mode="wrap")  # type: ignore[arg-type]


# -- 6. a WAV whose data ends before its header says ---------------------------------------------


@pytest.mark.parametrize(("ext", "rate"), [("wav", 44100), ("wav", 48000), ("aiff", 44100)])
def test_cut_file_warns_with_its_real_length_and_is_separated_as_far_as_it_goes(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    ext: str,
    rate: int,
) -> None:
    whole = write(tmp_path / f"whole.{ext}", noise(10.0, rate=rate), rate=rate, subtype="PCM_16")
    data = whole.read_bytes()
    song = tmp_path / f"song.{ext}"
    song.write_bytes(data[: len(data) * 62 // 100])
    real = sf.info(str(song)).frames
    assert abs(real / rate - 6.2) < 0.05
    out = tmp_path / "out"
    code, lines = run(["run", str(song), "-o", str(out), "-m", "identity-test-gain"], capsys)
    assert code == 0, lines
    assert lines == [
        f"splifft: warning: {song}: header says 10.0 s but the data ends at 6.2 s; separating 6.2 s"
    ]
    for stem in ("vocals", "drums", "instrum"):
        info = sf.info(str(out / "song" / f"{stem}.flac"))
        assert info.frames == real and info.samplerate == rate


def test_declared_frames_reads_wav_and_aiff_headers(tmp_path: Path) -> None:
    from splifft_core.audio import declared_frames

    wav = write(tmp_path / "a.wav", noise(0.1), subtype="PCM_24")
    assert declared_frames(wav) is None  # complete: libsndfile's count is the header's
    wav.write_bytes(wav.read_bytes()[:-300])
    assert declared_frames(wav) == int(0.1 * RATE)
    aiff = write(tmp_path / "a.aiff", noise(0.1), subtype="PCM_16")
    assert declared_frames(aiff) == int(0.1 * RATE)
    (tmp_path / "a.txt").write_text("RIFF")
    assert declared_frames(tmp_path / "a.txt") is None


# -- 15. SIGTERM and SIGHUP ---------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)])
def test_terminating_signal_cleans_up_like_ctrl_c(
    tmp_path: Path, faulty_site: Path, signum: signal.Signals
) -> None:
    # before: hidden .part files in the output folder, splifft-resampled-* files in TMPDIR
    song = write(tmp_path / "song.wav", noise(20.0, rate=48000), rate=48000)  # → resampled copy
    temp = tmp_path / "tmp"
    temp.mkdir()
    out = tmp_path / "out"
    env = splifft_env([faulty_site], {"SPLIFFT_PLUGINS": "faulty", "TMPDIR": str(temp)})
    command = [sys.executable, "-m", "splifft", "run", str(song), "-o", str(out)]
    process = subprocess.Popen(
        [*command, "-m", "faulty-test-slow", "-q"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(p.suffix == ".part" for p in files_under(out)):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "no .part file appeared"
            time.sleep(0.02)
        assert list(temp.glob("splifft-resampled-*"))  # the resampled copy exists mid-run
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signum, stderr
    assert stderr.strip().splitlines() == [f"splifft: terminated ({signum.name})"]
    assert [p for p in files_under(out) if p.suffix == ".part"] == []
    assert files_under(out) == []
    assert list(temp.glob("splifft-resampled-*")) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_in_process_aborts_the_writers_and_restores_the_handlers(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from splifft_core import engine

    song = write(tmp_path / "song.wav", noise(1.0))
    real = engine.stitch_stream

    def terminated_stream(*args: object, **kwargs: object) -> object:
        for n, item in enumerate(real(*args, **kwargs)):  # type: ignore[arg-type]
            if n == 1:
                os.kill(os.getpid(), signal.SIGTERM)
            yield item

    monkeypatch.setattr("splifft_core.separator.stitch_stream", terminated_stream)
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "out"
    args = ["run", str(song), "-o", str(out), "-m", "faulty-test-unity", "--chunk-size", "4096"]
    code, lines = run(args, capsys)
    assert code == 143 and lines == ["splifft: terminated (SIGTERM)"]
    assert files_under(out) == []
    assert signal.getsignal(signal.SIGTERM) is before
