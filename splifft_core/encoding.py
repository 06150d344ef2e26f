"""Output formats (`--format`) and the encoders behind those libsndfile does not write well.

FLAC and WAV are written by libsndfile as the stems stream. Every other format is encoded once
a stem is complete, from an exact float32 staging file (so that a stem rescaled to full scale
is scaled before the lossy encoder, never decoded and re-encoded): MP3 (LAME), AAC and ALAC in
MP4 (`.m4a`) and Opus in Ogg through FFmpeg (PyAV), Vorbis in Ogg through libsndfile (FFmpeg's
own Vorbis encoder is experimental and PyAV's wheels ship no libvorbis).

Lengths survive the round trip: FFmpeg writes the encoder delay and end padding where each
container keeps them (the LAME header of an mp3, the MP4 edit list and last packet duration,
Ogg granule positions), and `splifft_core.media` decodes them away.

NI Stems (`stem.mp4`): one MP4 per track with five AAC (or ALAC) streams, the mixture first,
then drums, bass, other and vocals, and Native Instruments' stem manifest, a JSON `stem` box in
`moov/udta` (names, colours, mastering DSP off) that Traktor and Mixxx read. PyAV is imported
inside the functions, so `import splifft_core` stays light.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from splifft_core.errors import OutputError

if TYPE_CHECKING:
    import numpy as np

BLOCK_FRAMES = 1 << 16

_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)  # fmt: skip
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


@dataclass(frozen=True)
class OutputFormat:
    """One `--format`: its file extension, codec and what it accepts."""

    name: str
    extension: str
    """Without the dot (`{ext}` in the filename template)."""
    description: str
    engine: Literal["soundfile", "ffmpeg"]
    codec: str
    """libsndfile's major format, or FFmpeg's encoder."""
    muxer: str | None = None
    """FFmpeg's container format."""
    bit_depths: tuple[int, ...] = ()
    """Lossless formats: the `--bit-depth` values they store."""
    default_bitrate: int | None = None
    """Lossy formats: bits per second when `--bitrate` is not given."""
    bitrates: tuple[int, int] | None = None
    """The `--bitrate` range the encoder takes."""
    sample_rates: tuple[int, ...] | None = None
    """The rates the codec stores (`None`: any); another rate is resampled to the nearest."""
    streamed: bool = False
    """Encoded as the stem streams (libsndfile PCM); else from a float32 staging file."""

    @property
    def lossless(self) -> bool:
        return bool(self.bit_depths)


FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("flac", "flac", "FLAC", "soundfile", "FLAC", bit_depths=(16, 24), streamed=True),
        OutputFormat("wav", "wav", "WAV", "soundfile", "WAV", bit_depths=(16, 24, 32), streamed=True),
        OutputFormat(
            "mp3", "mp3", "MP3 (LAME)", "ffmpeg", "libmp3lame", "mp3",
            default_bitrate=320_000, bitrates=(32_000, 320_000), sample_rates=_MP3_RATES,
        ),
        OutputFormat(
            "m4a", "m4a", "AAC in MP4", "ffmpeg", "aac", "ipod",
            default_bitrate=256_000, bitrates=(32_000, 512_000), sample_rates=_AAC_RATES,
        ),
        OutputFormat("alac", "m4a", "Apple Lossless in MP4", "ffmpeg", "alac", "ipod", bit_depths=(16, 24)),
        OutputFormat(
            "opus", "opus", "Opus in Ogg", "ffmpeg", "libopus", "ogg",
            default_bitrate=192_000, bitrates=(6_000, 512_000), sample_rates=_OPUS_RATES,
        ),
        OutputFormat(
            "ogg", "ogg", "Vorbis in Ogg", "soundfile", "OGG",
            default_bitrate=256_000, bitrates=(64_000, 500_000),
        ),
        OutputFormat(
            "stem.mp4", "stem.mp4", "NI Stems: mixture, drums, bass, other, vocals", "ffmpeg",
            "aac", "mp4", default_bitrate=256_000, bitrates=(32_000, 512_000),
            sample_rates=_AAC_RATES,
        ),
    )
}  # fmt: skip
"""Every `--format`, in the order `splifft run --help` lists them."""

STEM_SLOTS = ("drums", "bass", "other", "vocals")
"""NI Stems' four streams after the mixture, in file order."""

STEM_COLOURS = {"drums": "#009E73", "bass": "#D55E00", "other": "#CC79A7", "vocals": "#56B4E9"}
"""The colours Mixxx gives a stem file without its own (Okabe–Ito), so ours look alike."""

TAG_KEYS = (
    "title",
    "artist",
    "album",
    "album_artist",
    "date",
    "genre",
    "track",
    "disc",
    "composer",
    "copyright",
)
"""The input's tags carried onto every stem (FFmpeg's names)."""

_SOUNDFILE_TAGS = {
    "title": "title",
    "artist": "artist",
    "album": "album",
    "date": "date",
    "genre": "genre",
    "track": "tracknumber",
    "copyright": "copyright",
}
"""FFmpeg's tag names → libsndfile's (it stores no others)."""

_VORBIS_QUALITY = (
    (64_000, 0.0),
    (112_000, 3.0),
    (160_000, 5.0),
    (192_000, 6.0),
    (224_000, 7.0),
    (256_000, 8.0),
    (320_000, 9.0),
    (500_000, 10.0),
)
"""libvorbis's nominal stereo bitrate at quality q (its encoder is quality-driven)."""

Codec = Literal["aac", "alac"]


def output_format(name: str) -> OutputFormat:
    """The format called `name`, or a one-line `OutputError` listing them."""
    try:
        return FORMATS[name]
    except KeyError:
        raise OutputError(f"format {name!r} is not supported (use {', '.join(FORMATS)})") from None


def parse_bitrate(text: str | int | None) -> int | None:
    """`"192k"`, `"192000"` or `192000` as bits per second (`None` stays `None`)."""
    if text is None or isinstance(text, int):
        return text
    value = text.strip().lower().removesuffix("bps").removesuffix("b")
    scale = 1
    if value.endswith("k"):
        value, scale = value[:-1], 1000
    elif value.endswith("m"):
        value, scale = value[:-1], 1_000_000
    try:
        bits = round(float(value) * scale)
    except ValueError:
        bits = 0
    if bits <= 0:
        raise OutputError(f"bitrate {text!r} is not a bitrate (e.g. 192k or 320000)")
    return bits


def check_encoding(
    fmt: OutputFormat, bit_depth: int | None, bitrate: int | None, stem_codec: Codec = "aac"
) -> None:
    """One-line `OutputError`s for settings `fmt` cannot take (`stem_codec`: a stem.mp4's)."""
    if stem_codec not in ("aac", "alac"):
        raise OutputError(f"stem codec {stem_codec!r} is not one of aac, alac")
    if fmt.name == "stem.mp4" and stem_codec == "alac":
        fmt = FORMATS["alac"]
    if bitrate is not None:
        if fmt.bitrates is None:
            raise OutputError(f"--bitrate applies to lossy formats; {fmt.name} is lossless")
        low, high = fmt.bitrates
        if not low <= bitrate <= high:
            raise OutputError(
                f"bitrate {bitrate // 1000}k is out of range for {fmt.name} "
                f"({low // 1000}k to {high // 1000}k)"
            )
    if bit_depth is not None and not fmt.lossless:
        raise OutputError(f"--bit-depth applies to lossless formats; {fmt.name} is lossy")
    if bit_depth is not None and bit_depth not in fmt.bit_depths:
        if bit_depth == 32:
            raise OutputError(
                f"{fmt.description} cannot store 32-bit float samples "
                "(use --format wav or --bit-depth 24)"
            )
        depths = " or ".join(map(str, fmt.bit_depths))
        raise OutputError(f"{fmt.name} stores {depths}-bit samples, not {bit_depth}-bit")


def output_rate(fmt: OutputFormat, rate: int) -> int:
    """The rate `fmt` stores audio of `rate` Hz at: `rate`, or the nearest higher rate the
    codec takes (the highest when none is)."""
    if fmt.sample_rates is None or rate in fmt.sample_rates:
        return rate
    higher = [r for r in fmt.sample_rates if r > rate]
    return min(higher) if higher else max(fmt.sample_rates)


def stem_tags(tags: Mapping[str, str], title: str, stem: str | None) -> dict[str, str]:
    """The input's tags to carry (`TAG_KEYS`), the title naming the stem: `Song (vocals)`."""
    out = {k: tags[k] for k in TAG_KEYS if tags.get(k)}
    name = out.get("title") or title
    out["title"] = f"{name} ({stem})" if stem else name
    return out


def soundfile_tags(file: Any, tags: Mapping[str, str]) -> None:
    """Set what libsndfile can store of `tags` on a file opened for writing."""
    for key, attribute in _SOUNDFILE_TAGS.items():
        if tags.get(key):
            try:
                setattr(file, attribute, tags[key])
            except Exception:  # a format without that string (WAV's INFO has no album)
                continue


def vorbis_compression_level(bitrate: int) -> float:
    """libsndfile's Vorbis compression level (1 − quality / 10) for about `bitrate` bits/s."""
    import numpy as np

    points = np.array(_VORBIS_QUALITY, dtype=np.float64)
    quality = float(np.interp(bitrate, points[:, 0], points[:, 1]))
    return 1.0 - quality / 10.0


def _staged_blocks(path: Path) -> Iterator[np.ndarray]:
    import soundfile as sf

    with sf.SoundFile(str(path)) as source:
        while True:
            block = source.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
            if not len(block):
                return
            yield block


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def _add_stream(
    container: Any, codec: str, rate: int, channels: int, bitrate: int | None, bit_depth: int
) -> Any:
    stream = container.add_stream(codec, rate=rate, layout=_layout(channels))
    if bitrate is not None:
        stream.bit_rate = bitrate
    if codec == "alac":
        stream.format = "s16p" if bit_depth == 16 else "s32p"  # s32p: ALAC's 24 bits
    return stream


def _frame(block: np.ndarray, rate: int, pts: int) -> Any:
    """A packed float32 frame of `(frames, channels)`; PyAV converts to the codec's layout."""
    import av
    import numpy as np

    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(block).reshape(1, -1), format="flt", layout=_layout(block.shape[1])
    )
    frame.sample_rate = rate
    frame.pts = pts
    return frame


def encode_stem(
    staged: Path,
    destination: Path,
    fmt: OutputFormat,
    *,
    bitrate: int | None = None,
    bit_depth: int = 24,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Encode the float32 file `staged` into `destination` as `fmt` (at the staged rate)."""
    import soundfile as sf

    info = sf.info(str(staged))
    tags = dict(tags or {})
    if fmt.engine == "soundfile":
        level = vorbis_compression_level(bitrate or fmt.default_bitrate or 256_000)
        with sf.SoundFile(
            str(destination),
            "w",
            samplerate=info.samplerate,
            channels=info.channels,
            format=fmt.codec,
            subtype="VORBIS",
            compression_level=level,
        ) as out:
            soundfile_tags(out, tags)
            for block in _staged_blocks(staged):
                out.write(block)
        return
    import av

    with av.open(str(destination), "w", format=fmt.muxer) as container:
        container.metadata.update(tags)
        stream = _add_stream(
            container,
            fmt.codec,
            info.samplerate,
            info.channels,
            None if fmt.lossless else bitrate or fmt.default_bitrate,
            bit_depth,
        )
        pts = 0
        for block in _staged_blocks(staged):
            for packet in stream.encode(_frame(block, info.samplerate, pts)):
                container.mux(packet)
            pts += len(block)
        for packet in stream.encode(None):
            container.mux(packet)


def stem_manifest(names: Sequence[str] = STEM_SLOTS) -> bytes:
    """NI's stem manifest: version 1, mastering DSP off, a name and colour per stem."""
    manifest = {
        "version": 1,
        "mastering_dsp": {
            "compressor": {
                "enabled": False,
                "input_gain": 0.5,
                "output_gain": 0.5,
                "threshold": 0,
                "dry_wet": 100,
                "attack": 0.003,
                "release": 0.3,
                "ratio": 3,
                "hp_cutoff": 300,
            },
            "limiter": {"enabled": False, "threshold": 0, "ceiling": -0.35, "release": 0.05},
        },
        "stems": [{"name": n.capitalize(), "color": STEM_COLOURS.get(n, "#888888")} for n in names],
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


def encode_stems_mp4(
    staged: Sequence[Path],
    destination: Path,
    *,
    codec: Codec = "aac",
    bitrate: int | None = None,
    bit_depth: int = 24,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Mux the float32 files `staged` (mixture, drums, bass, other, vocals; one rate and length)
    into one NI Stems MP4 at `destination`, then add the stem manifest."""
    import av
    import soundfile as sf

    if len(staged) != 1 + len(STEM_SLOTS):
        raise ValueError(f"stem.mp4 takes {1 + len(STEM_SLOTS)} streams, not {len(staged)}")
    info = sf.info(str(staged[0]))
    fmt = FORMATS["stem.mp4"]
    with av.open(str(destination), "w", format=fmt.muxer) as container:
        container.metadata.update(dict(tags or {}))
        streams = [
            _add_stream(
                container,
                codec,
                info.samplerate,
                info.channels,
                None if codec == "alac" else bitrate or fmt.default_bitrate,
                bit_depth,
            )
            for _ in staged
        ]
        for stream, name in zip(streams, ("mixture", *STEM_SLOTS), strict=True):
            stream.metadata["title"] = stream.metadata["handler_name"] = name.capitalize()
        readers = [_staged_blocks(p) for p in staged]
        pts = 0
        # Blocks of all five in turn, so the streams interleave in the file as they play.
        for blocks in zip(*readers, strict=True):
            for stream, block in zip(streams, blocks, strict=True):
                for packet in stream.encode(_frame(block, info.samplerate, pts)):
                    container.mux(packet)
            pts += len(blocks[0])
        for stream in streams:
            for packet in stream.encode(None):
                container.mux(packet)
    add_mp4_box(destination, b"stem", stem_manifest())


def _box_header(head: bytes, position: int, end: int) -> tuple[bytes, int, int]:
    """`(type, header size, size)` of the box whose first 16 bytes (fewer at the end) are
    `head`, at `position` in a span ending at `end`."""
    size, kind = struct.unpack(">I4s", head[:8])
    header = 8
    if size == 1:
        (size,) = struct.unpack(">Q", head[8:16])
        header = 16
    elif size == 0:
        size = end - position
    if size < header or position + size > end:
        raise OutputError("malformed MP4 box structure")
    return kind, header, size


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """`(type, offset, header size, size)` of the boxes in `data[start:end]`."""
    position = start
    while position + 8 <= end:
        kind, header, size = _box_header(data[position : position + 16], position, end)
        yield kind, position, header, size
        position += size


def _top_level_boxes(path: Path) -> list[tuple[bytes, int, int]]:
    """`(type, offset, size)` of the file's top-level boxes, reading headers only (`mdat` may
    be gigabytes)."""
    boxes: list[tuple[bytes, int, int]] = []
    total = path.stat().st_size
    with path.open("rb") as f:
        position = 0
        while position + 8 <= total:
            f.seek(position)
            try:
                kind, _, size = _box_header(f.read(16), position, total)
            except OutputError:
                raise OutputError(f"{path}: malformed MP4 box structure") from None
            boxes.append((kind, position, size))
            position += size
    return boxes


def add_mp4_box(path: Path, kind: bytes, payload: bytes) -> None:
    """Put a `kind` box holding `payload` into `moov/udta` of the MP4 at `path` (replacing one
    already there). The muxer writes `moov` last, so it grows in place without moving samples."""
    boxes = _top_level_boxes(path)
    if not boxes or boxes[-1][0] != b"moov":
        raise OutputError(f"{path}: the MP4's moov box is not at its end")
    _, moov_at, moov_size = boxes[-1]
    with path.open("r+b") as f:
        f.seek(moov_at)
        moov = f.read(moov_size)
        children = list(_boxes(moov, 8, len(moov)))
        box = struct.pack(">I4s", 8 + len(payload), kind) + payload
        udta = next((c for c in children if c[0] == b"udta"), None)
        if udta is None:
            body = moov[8:] + struct.pack(">I4s", 8 + len(box), b"udta") + box
        else:
            _, at, header, size = udta
            kept = b"".join(
                moov[a : a + s] for k, a, _, s in _boxes(moov, at + header, at + size) if k != kind
            )
            new_udta = struct.pack(">I4s", 8 + len(kept) + len(box), b"udta") + kept + box
            body = moov[8:at] + new_udta + moov[at + size :]
        f.seek(moov_at)
        f.write(struct.pack(">I4s", 8 + len(body), b"moov") + body)
        f.truncate()


def read_mp4_box(path: Path, kind: bytes) -> bytes | None:
    """The payload of `moov/udta/<kind>` in the MP4 at `path`, or `None`."""
    for top, at, size in _top_level_boxes(path):
        if top != b"moov":
            continue
        with path.open("rb") as f:
            f.seek(at)
            moov = f.read(size)
        for child, c_at, c_header, c_size in _boxes(moov, 8, len(moov)):
            if child != b"udta":
                continue
            for box, b_at, b_header, b_size in _boxes(moov, c_at + c_header, c_at + c_size):
                if box == kind:
                    return moov[b_at + b_header : b_at + b_size]
    return None
