"""Writing stems as mp3, m4a (AAC), ALAC, Opus, Vorbis and NI Stems (`splifft_core.encoding`).

The model is the identity architecture with known gains (`tests.fake_plugins`), so each stem's
expected content is its gain times the input, computed here with numpy; files are read back
through ffprobe when it is installed (else PyAV, the same FFmpeg libraries) and our decoder.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

av = pytest.importorskip("av")

from splifft.cli import main  # noqa: E402
from splifft_core.encoding import (  # noqa: E402
    STEM_COLOURS,
    add_mp4_box,
    parse_bitrate,
    read_mp4_box,
    vorbis_compression_level,
)
from splifft_core.errors import OutputError  # noqa: E402
from splifft_core.media import probe_media, read_media  # noqa: E402
from splifft_core.plugins import PluginHost  # noqa: E402
from tests.fake_plugins import identity, stems_gains  # noqa: E402

RATE = 44100
FRAMES = 3 * RATE + 777  # several 4096-frame chunks, not a multiple of any codec frame
TAGS = {"title": "My Song", "artist": "The Band", "album": "First Album"}
GAINS = {"vocals": 0.25, "drums": 0.5}  # identity-test-gain


@pytest.fixture
def hosts(plugin_host: Callable[..., PluginHost]) -> PluginHost:
    return plugin_host(identity, stems_gains)


def music(frames: int = FRAMES, rate: int = RATE) -> np.ndarray:
    """Tones and a little noise, below full scale, stereo float32."""
    t = np.arange(frames) / rate
    rng = np.random.default_rng(7)
    left = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1330 * t)
    right = 0.25 * np.sin(2 * np.pi * 330 * t) + 0.1 * np.sin(2 * np.pi * 2210 * t)
    mix = np.stack([left, right], axis=1) + 0.02 * rng.standard_normal((frames, 2))
    return mix.astype(np.float32)


def song(tmp_path: Path, frames: int = FRAMES) -> tuple[Path, np.ndarray]:
    """A 24-bit FLAC with title, artist and album; its samples as read back."""
    path = tmp_path / "song.flac"
    with sf.SoundFile(str(path), "w", RATE, 2, "PCM_24", format="FLAC") as f:
        f.title, f.artist, f.album = TAGS["title"], TAGS["artist"], TAGS["album"]
        f.write(music(frames))
    return path, sf.read(str(path), dtype="float32")[0]


def snr_db(estimate: np.ndarray, reference: np.ndarray) -> float:
    n = min(len(estimate), len(reference))
    error = estimate[:n] - reference[:n]
    return float(10 * np.log10(np.sum(reference[:n] ** 2) / np.sum(error**2)))


def ffprobe(path: Path) -> dict[str, Any]:
    """Streams (codec, rate, channels, duration) and tags as ffprobe reports them, or as PyAV
    does where ffprobe is not installed."""
    if shutil.which("ffprobe"):
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-export_all", "1", "-show_streams", "-show_format",
             "-of", "json", str(path)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        data = json.loads(out)
        streams = [
            {
                "codec": s["codec_name"],
                "rate": int(s["sample_rate"]),
                "channels": int(s["channels"]),
                "bit_rate": int(s.get("bit_rate") or 0),
            }
            for s in data["streams"]
            if s["codec_type"] == "audio"
        ]
        tags = {k.lower(): v for k, v in data["format"].get("tags", {}).items()}
        for s in data["streams"]:  # Ogg keeps its comments on the stream
            tags.update({k.lower(): v for k, v in s.get("tags", {}).items()})
        return {"streams": streams, "duration": float(data["format"]["duration"]), "tags": tags}
    with av.open(str(path), options={"export_all": "1"}) as c:
        streams = [
            # the codec's name, as ffprobe's codec_name, not the decoder's (`mp3float`)
            {"codec": s.codec_context.codec.canonical_name, "rate": s.sample_rate,
             "channels": s.channels,
             "bit_rate": s.bit_rate or 0}
            for s in c.streams.audio
        ]  # fmt: skip
        tags = {k.lower(): v for k, v in c.metadata.items()}
        for s in c.streams.audio:
            tags.update({k.lower(): v for k, v in s.metadata.items()})
        return {"streams": streams, "duration": c.duration / 1e6, "tags": tags}


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main([*args, "-q"])
    return code, capsys.readouterr().err.strip()


FORMAT_CASES = [
    # format, extra args, file extension, codec ffprobe names, rate, lossless
    ("mp3", ["--bitrate", "192k"], "mp3", "mp3", RATE, False),
    ("m4a", [], "m4a", "aac", RATE, False),
    ("alac", [], "m4a", "alac", RATE, True),
    ("opus", [], "opus", "opus", 48000, False),
    ("ogg", [], "ogg", "vorbis", RATE, False),
    ("flac", [], "flac", "flac", RATE, True),
]


@pytest.mark.parametrize(("fmt", "extra", "ext", "codec", "rate", "lossless"), FORMAT_CASES)
def test_each_format_reads_back_with_codec_duration_tags_and_content(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    extra: list[str],
    ext: str,
    codec: str,
    rate: int,
    lossless: bool,
) -> None:
    path, mix = song(tmp_path)
    out = tmp_path / "out"
    code, err = run(
        [
            "run",
            str(path),
            "-m",
            "identity-test-gain",
            "--stems",
            "vocals,drums",
            "-o",
            str(out),
            "--format",
            fmt,
            *extra,
        ],
        capsys,
    )
    assert code == 0, err
    written = sorted(p.name for p in (out / "song").iterdir())
    assert written == [f"drums.{ext}", f"vocals.{ext}"]  # no temporary file left
    frames = FRAMES if rate == RATE else round(FRAMES * rate / RATE)
    for stem, gain in GAINS.items():
        file = out / "song" / f"{stem}.{ext}"
        probe = ffprobe(file)
        (stream,) = probe["streams"]
        assert (stream["codec"], stream["rate"], stream["channels"]) == (codec, rate, 2)
        # ffprobe's container duration may count a codec frame of padding (mp3: 1152 samples)
        assert abs(probe["duration"] - FRAMES / RATE) < 2 * 1152 / RATE, probe["duration"]
        assert probe["tags"]["title"] == f"My Song ({stem})"
        assert probe["tags"]["artist"] == "The Band" and probe["tags"]["album"] == "First Album"
        assert probe_media(file).frames == frames  # the encoder delay and padding trimmed
        data, got_rate = read_media(file)
        assert got_rate == rate and len(data) == frames
        expected = gain * mix
        if rate != RATE:
            import soxr

            expected = soxr.resample(expected, RATE, rate)
        if lossless:
            np.testing.assert_allclose(data, expected, atol=2.0**-22)
        else:
            assert snr_db(data, expected) > 20.0, snr_db(data, expected)
        if fmt == "mp3":
            assert stream["bit_rate"] == 192_000


def test_opus_says_it_resamples(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = song(tmp_path, RATE)
    code = main(["run", str(path), "-m", "identity-test-gain", "-o", str(tmp_path / "o"),
                 "--format", "opus"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"{path}: opus stores 48000 Hz, not 44100 Hz: stems resampled to 48000 Hz" in err


def stems_file(out: Path) -> Path:
    (file,) = out.iterdir()
    assert file.name == "song.stem.mp4"
    return file


@pytest.mark.parametrize(
    ("model", "codec", "extra"),
    [
        ("identity-test-five", "aac", []),
        ("identity-test-three", "alac", ["--stem-codec", "alac", "--bit-depth", "24"]),
    ],
)
def test_stem_mp4_has_mixture_four_slots_and_manifest(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    model: str,
    codec: str,
    extra: list[str],
) -> None:
    path, mix = song(tmp_path)
    out = tmp_path / "out"
    code, err = run(["run", str(path), "-m", model, "-o", str(out), "--format", "stem.mp4",
                     *extra], capsys)  # fmt: skip
    assert code == 0, err
    file = stems_file(out)
    probe = ffprobe(file)
    assert [s["codec"] for s in probe["streams"]] == [codec] * 5
    assert abs(probe["duration"] - FRAMES / RATE) < 2048 / RATE
    assert probe["tags"]["title"] == "My Song" and probe["tags"]["artist"] == "The Band"
    manifest = json.loads(read_mp4_box(file, b"stem") or b"{}")
    assert json.loads(probe["tags"]["stem"]) == manifest  # ffprobe -export_all sees the box
    assert manifest["version"] == 1
    assert [s["name"] for s in manifest["stems"]] == ["Drums", "Bass", "Other", "Vocals"]
    assert [s["color"] for s in manifest["stems"]] == list(STEM_COLOURS.values())
    assert not manifest["mastering_dsp"]["limiter"]["enabled"]
    # Hand-derived: mixture, drums 0.2, bass 0.3, other 0.4 (five: piano 0.15 + other 0.25;
    # three: 1 − 0.1 − 0.2 − 0.3), vocals 0.1.
    for index, gain in enumerate([1.0, 0.2, 0.3, 0.4, 0.1]):
        data, rate = read_media(file, index)
        assert rate == RATE and len(data) == FRAMES
        if codec == "alac":
            np.testing.assert_allclose(data, gain * mix, atol=2.0**-21)
        else:
            assert snr_db(data, gain * mix) > 20.0, (index, snr_db(data, gain * mix))
    with av.open(str(file)) as container:
        enabled = [bool(s.disposition & av.stream.Disposition.default) for s in container.streams]
    assert enabled == [True, False, False, False, False]  # plain players play the mixture


def test_stem_mp4_round_trips_as_input(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `.stem.mp4` is an input too: stream 0 by default, `--stream 4` its vocals."""
    path, mix = song(tmp_path)
    first = tmp_path / "first"
    assert run(["run", str(path), "-m", "identity-test-five", "-o", str(first),
                "--format", "stem.mp4"], capsys)[0] == 0  # fmt: skip
    stems = stems_file(first)
    again = tmp_path / "again"
    code, err = run(["run", str(stems), "-m", "identity-test-gain", "-o", str(again),
                     "--format", "wav", "--bit-depth", "32", "--stream", "4"], capsys)  # fmt: skip
    assert code == 0, err
    # `{track}` of `song.stem.mp4` is `song`
    vocals, rate = sf.read(str(again / "song" / "vocals.wav"), dtype="float32")
    assert rate == RATE and len(vocals) == FRAMES
    assert snr_db(vocals, 0.25 * 0.1 * mix) > 20.0


def test_stem_mp4_refuses_models_and_settings_it_cannot_take(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = song(tmp_path, RATE)
    out = tmp_path / "out"
    base = ["run", str(path), "-o", str(out), "--format", "stem.mp4"]
    cases = [
        (["-m", "identity-test-gain"],
         "stem.mp4 needs drums, bass and vocals; model 'identity-test-gain' gives vocals, "
         "drums, instrum (no bass)"),
        (["-m", "identity-test-five", "--stems", "vocals"],
         "--stems does not apply to stem.mp4 (it holds drums, bass, other and vocals)"),
        (["-m", "identity-test-five", "--stem-codec", "alac", "--bitrate", "256k"],
         "--bitrate applies to lossy formats; alac is lossless"),
        (["-m", "identity-test-five", "--bit-depth", "16"],
         "--bit-depth applies to lossless formats; stem.mp4 is lossy"),
    ]  # fmt: skip
    for extra, message in cases:
        code, err = run([*base, *extra], capsys)
        assert code == 1 and err == f"splifft: error: {message}", err
    assert not out.exists() or not any(out.rglob("*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "mp3", "--bitrate", "999k"], "bitrate 999k is out of range for mp3 (32k to 320k)"),
        (["--format", "mp3", "--bitrate", "fast"], "bitrate 'fast' is not a bitrate (e.g. 192k or 320000)"),
        (["--format", "flac", "--bitrate", "192k"], "--bitrate applies to lossy formats; flac is lossless"),
        (["--format", "opus", "--bit-depth", "24"], "--bit-depth applies to lossless formats; opus is lossy"),
        (["--format", "alac", "--bit-depth", "32"],
         "Apple Lossless in MP4 cannot store 32-bit float samples (use --format wav or --bit-depth 24)"),
    ],
)  # fmt: skip
def test_bad_encoding_settings_are_one_line_before_any_work(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    path, _ = song(tmp_path, RATE)
    out = tmp_path / "out"
    code, err = run(["run", str(path), "-m", "identity-test-gain", "-o", str(out), *args], capsys)
    assert code == 1 and err == f"splifft: error: {message}"
    assert not out.exists()


def test_an_encoder_failure_leaves_nothing(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second stem's encoder fails: the first stem, already encoded, is not renamed into
    place either, and no temporary file stays behind."""
    import splifft_core.audio as audio
    from splifft_core.encoding import encode_stem as real

    calls: list[Path] = []

    def failing(staged: Path, destination: Path, *a: Any, **k: Any) -> None:
        calls.append(destination)
        if len(calls) == 2:
            destination.write_bytes(b"half a file")
            raise OSError(28, "No space left on device")
        real(staged, destination, *a, **k)

    monkeypatch.setattr(audio, "encode_stem", failing)
    path, _ = song(tmp_path, RATE)
    out = tmp_path / "out"
    code, err = run(["run", str(path), "-m", "identity-test-gain", "-o", str(out),
                     "--format", "m4a"], capsys)  # fmt: skip
    assert code == 1 and len(calls) == 2
    assert err.startswith("splifft: error: ") and "No space left on device" in err
    assert "\n" not in err
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_parse_bitrate_and_vorbis_quality() -> None:
    assert [parse_bitrate(t) for t in ("192k", "192K", "320000", "1.5M", "96kbps")] == [
        192_000, 192_000, 320_000, 1_500_000, 96_000,
    ]  # fmt: skip
    assert parse_bitrate(None) is None
    with pytest.raises(OutputError):
        parse_bitrate("-5k")
    # libvorbis quality 8 ≈ 256 kb/s, 5 ≈ 160 kb/s; libsndfile's level is 1 − q/10
    assert vorbis_compression_level(256_000) == pytest.approx(0.2)
    assert vorbis_compression_level(160_000) == pytest.approx(0.5)


def test_mp4_box_is_added_replaced_and_samples_stay(tmp_path: Path) -> None:
    """`add_mp4_box` grows moov in place: the audio decodes the same, a second call replaces
    the box instead of adding one, and a file whose moov is not last is refused."""
    path = tmp_path / "a.m4a"
    with av.open(str(path), "w", format="ipod") as c:
        c.metadata["title"] = "T"
        s = c.add_stream("alac", rate=RATE, layout="stereo")
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(music(RATE).reshape(1, -1)), format="flt", layout="stereo"
        )
        frame.sample_rate, frame.pts = RATE, 0
        for packet in [*s.encode(frame), *s.encode(None)]:
            c.mux(packet)
    before, _ = read_media(path)
    add_mp4_box(path, b"stem", b'{"a":1}')
    add_mp4_box(path, b"stem", b'{"b":2}')
    assert read_mp4_box(path, b"stem") == b'{"b":2}'
    assert path.read_bytes().count(b"stem{") == 1
    after, _ = read_media(path)
    np.testing.assert_array_equal(before, after)
    assert probe_media(path).tags["title"] == "T"
    raw = path.read_bytes()
    (tmp_path / "b.m4a").write_bytes(raw + b"\x00\x00\x00\x08free")
    with pytest.raises(OutputError, match="moov box is not at its end"):
        add_mp4_box(tmp_path / "b.m4a", b"stem", b"{}")
