"""Decoding what FFmpeg reads (`splifft_core.media`), and `splifft run` on it.

Every media file is made here with PyAV's encoders: nothing committed, no network.

Length tolerances: ALAC and FLAC are exact (lossless, no delay); AAC in MP4 is exact too (the
decoder drops the 1024-frame priming from the edit list, `decode_blocks` cuts the last frame's
padding at the last packet's end); mp3 (LAME header) and Opus (pre-skip, end trimming in Ogg and
WebM) are exact as FFmpeg decodes them. `TOL` allows one AAC frame (1024) in case an FFmpeg
build reports them differently.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

av = pytest.importorskip("av")

from splifft.cli import main  # noqa: E402
from splifft_core.audio import FileSource, audio_extensions, probe  # noqa: E402
from splifft_core.errors import AudioError  # noqa: E402
from splifft_core.media import decode_blocks, probe_media, read_media  # noqa: E402
from splifft_core.plugins import PluginHost  # noqa: E402

RATE = 44100
HPSS = ["-m", "hpss-fitzgerald-median"]
TOL = 1024


def tone(frames: int, rate: int = RATE, freq: float = 440.0, channels: int = 2) -> np.ndarray:
    t = np.arange(frames) / rate
    left = 0.3 * np.sin(2 * np.pi * freq * t)
    right = 0.2 * np.sin(2 * np.pi * freq * 1.5 * t)
    return np.stack([left, right][:channels], axis=1).astype(np.float32)


def encode(
    path: Path,
    signals: list[np.ndarray],
    codec: str = "aac",
    rate: int = RATE,
    *,
    video: bool = False,
    bitrate: int | None = None,
    fmt: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """`signals` (each `(frames, channels)` float32) as audio streams of one file."""
    out = av.open(str(path), "w", format=fmt)
    if metadata:
        out.metadata.update(metadata)
    streams = []
    for _sig in signals:
        options = {"strict": "experimental"} if codec == "vorbis" else {}
        stream = out.add_stream(codec, rate=rate, options=options)
        stream.layout = "stereo" if _sig.shape[1] == 2 else "mono"
        if bitrate:
            stream.bit_rate = bitrate
        streams.append(stream)
    if video:
        vs = out.add_stream("mpeg4", rate=10)
        vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        seconds = max((len(s) / rate for s in signals), default=1.0)
        for _ in range(max(1, int(seconds * 10))):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    for sig, stream in zip(signals, streams, strict=True):
        for i in range(0, len(sig), 4096):
            block = np.ascontiguousarray(sig[i : i + 4096].T)
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=stream.layout.name)
            frame.sample_rate, frame.pts, frame.time_base = rate, i, Fraction(1, rate)
            # PyAV converts to the encoder's sample format (ALAC: s16p/s32p) itself.
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    out.close()
    return path


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n].ravel(), b[:n].ravel())[0, 1])


CASES = [
    # name, codec, rate, exact content
    ("song.m4a", "aac", RATE, False),
    ("lossless.m4a", "alac", RATE, True),
    ("song.opus", "libopus", 48000, False),
    ("song.ogg", "vorbis", RATE, False),
    ("song.mp3", "libmp3lame", RATE, False),
    ("song.mka", "flac", RATE, True),
]


@pytest.mark.parametrize(("name", "codec", "rate", "lossless"), CASES)
def test_decodes_rate_channels_length_content(
    tmp_path: Path, name: str, codec: str, rate: int, lossless: bool
) -> None:
    frames = 2 * rate + 321  # not a multiple of any codec frame
    source = tone(frames, rate)
    if lossless:
        source = np.round(source * 32767) / 32767  # exact in 16 bits
    path = encode(tmp_path / name, [source], codec, rate)
    info = probe_media(path)
    assert (info.sample_rate, info.channels, info.stream, info.audio_streams) == (rate, 2, 0, 1)
    data, got_rate = read_media(path)
    assert got_rate == rate and data.dtype == np.float32 and data.shape[1] == 2
    assert info.frames == len(data)
    if lossless:
        assert len(data) == frames
        np.testing.assert_allclose(data, source, atol=1.5 / 32768)
    else:
        assert abs(len(data) - frames) <= TOL, (len(data), frames)
        if codec == "vorbis":
            # FFmpeg's native (experimental) Vorbis encoder shifts the second channel's phase;
            # libsndfile decodes the same samples. Left: waveform; right: level.
            assert correlation(data[:, :1], source[:, :1]) > 0.9
            assert abs(data[:, 1].std() / source[:, 1].std() - 1) < 0.05
        else:
            assert correlation(data, source) > 0.9
    if codec in ("aac", "libopus", "libmp3lame"):
        assert len(data) == frames  # the encoder delay and padding are trimmed exactly


def test_video_soundtrack_and_missing_audio(tmp_path: Path) -> None:
    source = tone(RATE + 100)
    movie = encode(tmp_path / "clip.mp4", [source], video=True)
    data, rate = read_media(movie)
    assert rate == RATE and len(data) == len(source) and correlation(data, source) > 0.9
    silent = encode(tmp_path / "silent.mp4", [], video=True)
    with pytest.raises(AudioError, match=r"silent\.mp4: has no audio stream$"):
        probe_media(silent)


def test_second_stream_and_out_of_range(tmp_path: Path) -> None:
    first, second = tone(RATE, freq=440.0), tone(RATE, freq=1234.0)
    path = encode(tmp_path / "two.mkv", [first, second])
    assert probe_media(path, 1).audio_streams == 2
    one, _ = read_media(path, 0)
    two, _ = read_media(path, 1)
    assert correlation(one, first) > 0.9 and correlation(two, second) > 0.9
    assert abs(correlation(two, first)) < 0.3
    with pytest.raises(AudioError) as err:
        probe_media(path, 5)
    assert str(err.value) == f"{path}: has 2 audio streams; --stream 5 is out of range"


def test_stem_mp4_like_musdb(tmp_path: Path) -> None:
    stems = [tone(RATE // 2, freq=220.0 * (k + 1)) for k in range(5)]
    path = encode(tmp_path / "track.stem.mp4", stems, metadata={"title": "Song", "artist": "Me"})
    assert path.suffix in audio_extensions()
    info = probe_media(path, 4)
    assert info.audio_streams == 5 and info.frames == RATE // 2
    assert info.tags.get("title") == "Song" and info.tags.get("artist") == "Me"
    for k in range(5):
        data, _ = read_media(path, k)
        assert correlation(data, stems[k]) > 0.9


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "empty", "missing"])
def test_bad_files_one_line_errors(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "bad.m4a"
    if kind == "corrupt":
        path.write_bytes(np.random.default_rng(0).bytes(20000))
    elif kind == "truncated":
        good = encode(tmp_path / "good.m4a", [tone(RATE)])
        raw = good.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    with pytest.raises(AudioError) as err:
        probe_media(path)
        list(decode_blocks(path))
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    expected = {
        "corrupt": "not a readable media file (corrupt or truncated",
        "truncated": "corrupt or truncated",
        "empty": "file is empty",
        "missing": "no such file",
    }[kind]
    assert expected in message
    with pytest.raises(AudioError):
        probe(path)


def test_truncated_faststart_stops_with_position(tmp_path: Path) -> None:
    """A cut mp3 (no index to lose) decodes as far as it goes, or names where it broke."""
    good = encode(tmp_path / "good.mp3", [tone(4 * RATE)], "libmp3lame")
    raw = good.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(raw[: len(raw) // 2])
    try:
        data, _ = read_media(cut)
    except AudioError as exc:
        assert str(exc).startswith(f"{cut}: corrupt or truncated at ")
    else:
        assert 1.5 * RATE < len(data) < 2.5 * RATE
        notes: list[str] = []
        with FileSource(cut, RATE, 2, notify=notes.append) as fs:
            assert fs.length == len(data)
        assert len(notes) == 1 and notes[0].startswith(f"{cut}: header says 4.0 s but the data")


def test_soundfile_inputs_keep_their_reader_and_tags(tmp_path: Path) -> None:
    path = tmp_path / "song.flac"
    with sf.SoundFile(str(path), "w", RATE, 2, format="FLAC") as f:
        f.title, f.artist = "Flac title", "Someone"
        f.write(tone(RATE))
    with FileSource(path, RATE, 2) as fs:
        assert not fs._media and fs.length == RATE
        assert fs.tags == {"title": "Flac title", "artist": "Someone"}


def test_file_source_decodes_media_once(tmp_path: Path) -> None:
    source = tone(RATE + 777)
    path = encode(tmp_path / "song.m4a", [source], metadata={"title": "T"})
    with FileSource(path, 48000, 2) as fs:
        assert fs.info.sample_rate == RATE and fs.info.frames == len(source)
        assert fs.tags.get("title") == "T"
        assert abs(fs.length - round(len(source) * 48000 / RATE)) <= 1
    with FileSource(path, RATE, 1) as fs:
        assert fs.length == len(source) and fs.channels == 1
        chunk = fs.read(0, 1000).numpy()
        assert chunk.shape == (1, 1000)


@pytest.fixture
def hosts(plugin_host: Callable[..., PluginHost]) -> PluginHost:
    import splifft_plugin_hpss

    return plugin_host(splifft_plugin_hpss)


def test_run_on_m4a_keeps_duration_and_picks_stream(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tone(RATE + 555, freq=440.0), tone(RATE + 555, freq=2000.0)
    song = encode(tmp_path / "song.m4a", [first, second])
    decoded, _ = read_media(song)
    out = tmp_path / "out"
    code = main(["run", str(song), *HPSS, "-o", str(out), "--format", "wav", "-q"])
    assert code == 0, capsys.readouterr().err
    stems = sorted(out.rglob("*.wav"))
    assert stems
    for stem in stems:
        assert sf.info(str(stem)).frames == len(decoded) == len(first)
        assert sf.info(str(stem)).samplerate == RATE

    def mix(folder: Path) -> np.ndarray:
        parts = [sf.read(str(p), dtype="float32")[0] for p in sorted(folder.rglob("*.wav"))]
        return np.asarray(np.sum(parts, axis=0), dtype=np.float32)

    picked = tmp_path / "picked"
    code = main(["run", str(song), *HPSS, "-o", str(picked), "--format", "wav", "-q",
                 "--stream", "1"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert correlation(mix(picked), second) > 0.9
    assert correlation(mix(out), first) > 0.9
    code = main(["run", str(song), *HPSS, "-o", str(tmp_path / "x"), "-q", "--stream", "2"])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err == f"splifft: error: {song}: has 2 audio streams; --stream 2 is out of range"
    assert not (tmp_path / "x").exists()


def test_run_on_video_without_audio(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    silent = encode(tmp_path / "silent.mp4", [], video=True)
    out = tmp_path / "out"
    code = main(["run", str(silent), *HPSS, "-o", str(out), "-q"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and err == f"splifft: error: {silent}: has no audio stream"
    assert not out.exists() or not any(out.rglob("*"))


def test_long_decode_memory_is_bounded(tmp_path: Path) -> None:
    """10 minutes of low-bitrate mono AAC decode in blocks: the traced peak stays near a block."""
    rate, minutes = 8000, 10
    frames = rate * 60 * minutes
    block = np.tile(tone(rate, rate, channels=1), (60 * minutes, 1))
    path = encode(tmp_path / "long.m4a", [block], rate=rate, bitrate=16000)
    del block
    block_frames = 1 << 16
    tracemalloc.start()
    try:
        total = 0
        for part in decode_blocks(path, block_frames=block_frames):
            total += len(part)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == frames
    whole = frames * 4
    assert peak < 6 * block_frames * 4 + (1 << 20), (peak, whole)
    assert peak < whole / 10


CONTAINERS = [
    # file name, codec, rate
    ("song.m4a", "aac", RATE),
    ("lossless.m4a", "alac", RATE),
    ("song.mp3", "libmp3lame", RATE),
    ("song.opus", "libopus", 48000),
    ("song.ogg", "vorbis", RATE),
    ("song.mkv", "aac", RATE),
    ("song.webm", "libopus", 48000),
]


@pytest.mark.parametrize("kind", ["truncated", "corrupt", "empty"])
@pytest.mark.parametrize(("name", "codec", "rate"), CONTAINERS)
def test_bad_files_of_every_container_through_run(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    codec: str,
    rate: int,
    kind: str,
) -> None:
    """Cut, garbled or empty: one line naming the file and nothing written, or (a cut stream
    without an index to lose) stems as far as the data goes with a warning naming the file."""
    good = encode(tmp_path / f"good-{name}", [tone(3 * rate, rate)], codec, rate)
    raw = good.read_bytes()
    bad = tmp_path / name
    if kind == "truncated":
        bad.write_bytes(raw[: len(raw) * 2 // 5])
    elif kind == "corrupt":  # the header kept, the rest noise
        noise = np.random.default_rng(1).bytes(len(raw) - 64)
        bad.write_bytes(raw[:64] + noise)
    else:
        bad.write_bytes(b"")
    out = tmp_path / "out"
    code = main(["run", str(bad), *HPSS, "-o", str(out), "--format", "wav", "-q"])
    lines = capsys.readouterr().err.strip().splitlines()
    if code:
        assert len(lines) == 1 and lines[0].startswith(f"splifft: error: {bad}: "), lines
        assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]
    else:  # decoded as far as it goes: said, and the stems are whole files of that length
        assert kind != "empty"
        assert lines and all(str(bad) in line for line in lines), lines
        stems = sorted(out.rglob("*.wav"))
        assert stems and not [p for p in out.rglob("*") if p.name.endswith(".part")]
        assert len({sf.info(str(p)).frames for p in stems}) == 1


@pytest.mark.parametrize(
    ("name", "codec", "rate", "video", "streams"),
    [(n, c, r, False, 1) for n, c, r in CONTAINERS]
    + [("clip.mp4", "aac", RATE, True, 1), ("track.stem.mp4", "aac", RATE, False, 5)],
)
def test_run_on_every_container_keeps_duration(
    hosts: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    codec: str,
    rate: int,
    video: bool,
    streams: int,
) -> None:
    """The stems have the input's rate and exact length (the encoder delay and padding
    trimmed), and sum back to the decoded mixture (HPSS's masks sum to one)."""
    frames = 2 * rate + 4321
    signals = [tone(frames, rate, freq=220.0 * (k + 1)) for k in range(streams)]
    path = encode(tmp_path / name, signals, codec, rate, video=video)
    decoded, _ = read_media(path)
    out = tmp_path / "out"
    code = main(["run", str(path), *HPSS, "-o", str(out), "--format", "wav", "--bit-depth",
                 "32", "-q"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    track = "track" if name.endswith(".stem.mp4") else Path(name).stem
    stems = sorted((out / track).glob("*.wav"))
    assert [p.stem for p in stems] == ["harmonic", "percussive"]
    parts = [sf.read(str(p), dtype="float32") for p in stems]
    for data, got in parts:
        assert got == rate and len(data) == len(decoded)
        if name.endswith((".m4a", ".mp4", ".mp3", ".opus", ".webm")):
            # exact: MP4's edit list and last packet, the LAME header, Opus' pre-skip and end
            # trimming (Matroska keeps AAC's end padding: the mkv is a frame longer)
            assert len(data) == frames
    total = parts[0][0] + parts[1][0]
    # resampled to the model's 44.1 kHz and back: the last few samples carry soxr's filter edge
    edge = 32 if rate != RATE else 0
    np.testing.assert_allclose(total[: len(total) - edge], decoded[: len(total) - edge], atol=2e-3)
