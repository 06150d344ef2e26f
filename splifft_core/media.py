"""Decoding anything FFmpeg reads (m4a/AAC, ALAC, mp3, opus, mkv, video soundtracks, …) with PyAV.

`splifft_core.audio` uses this for the files libsndfile cannot read. PyAV is imported inside the
functions, so `import splifft_core` stays light.

Lengths: FFmpeg's decoders drop the encoder delay (priming) themselves where the container says
how long it is (MP4 edit lists, Ogg Opus pre-skip, the LAME/Xing header of an mp3, WebM
`DiscardPadding`). The end padding of the last AAC frame in MP4/MOV is not dropped by the
decoder, so `decode_blocks` cuts the output where the last packet ends (`pts + duration`, which
is exact in the per-sample time base MP4 uses). `MediaInfo.frames` is the number of frames
`decode_blocks` yields: for MP4/MOV it comes from a demux-only scan of the packets (no
decoding; the container's figures are exact there), for every other container from a full decode
count, since their declared durations are estimates (Ogg's includes the pre-skip, Matroska's is
in milliseconds, raw ADTS has none).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from splifft_core.errors import AudioError

BLOCK_FRAMES = 1 << 18

_MP4_FAMILY = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2"}

_TECHNICAL = (
    "major_brand",
    "minor_version",
    "compatible_brands",
    "handler_name",
    "vendor_id",
    "duration",
    "language",
)
"""Container bookkeeping FFmpeg reports as metadata: not tags a listener set."""


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int
    """Frames `decode_blocks` yields: the encoder delay and end padding are not counted."""
    codec: str
    container: str
    stream: int
    """Index among the file's audio streams (0: the first)."""
    audio_streams: int
    tags: dict[str, str]
    """Container and stream metadata (title, artist, album, …), lower-case keys; the stream's
    values win over the container's."""


def _reason(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "strerror", None) or exc).split())
    return text.rstrip(".") or type(exc).__name__


def _open(path: Path) -> Any:
    """The opened container, or a one-line `AudioError`."""
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: not a readable media file (file is empty)")
    import av

    try:
        return av.open(str(path), metadata_errors="replace")
    except Exception as exc:
        raise AudioError(
            f"{path}: not a readable media file (corrupt or truncated: {_reason(exc)})"
        ) from None


def _audio_stream(container: Any, path: Path, stream: int) -> Any:
    audio = list(container.streams.audio)
    if not audio:
        raise AudioError(f"{path}: has no audio stream")
    if not 0 <= stream < len(audio):
        plural = "stream" if len(audio) == 1 else "streams"
        raise AudioError(
            f"{path}: has {len(audio)} audio {plural}; --stream {stream} is out of range"
        )
    return audio[stream]


def _container_name(container: Any) -> str:
    return str(container.format.name)


def _is_mp4(container: Any) -> bool:
    return bool(set(_container_name(container).split(",")) & _MP4_FAMILY)


def _samples(value: int, time_base: Fraction, rate: int) -> int | None:
    """`value` in `time_base` as a whole number of samples, or `None` when it is not one."""
    exact = Fraction(value) * time_base * rate
    return int(exact) if exact.denominator == 1 else None


def _packet_end(path: Path, stream: int) -> int | None:
    """Where the stream's last packet ends, in samples from the stream's start (MP4/MOV only:
    `None` elsewhere, or when a packet's duration is unknown)."""
    container = _open(path)
    try:
        if not _is_mp4(container):
            return None
        audio = _audio_stream(container, path, stream)
        tb, rate = audio.time_base, int(audio.sample_rate)
        if tb is None or not rate:
            return None
        start = max(0, audio.start_time or 0)
        end: int | None = None
        for packet in container.demux(audio):
            if packet.pts is None:
                continue
            if not packet.duration:
                return None
            stop = _samples(packet.pts + packet.duration - start, tb, rate)
            if stop is None:
                return None
            end = stop if end is None else max(end, stop)
        return end
    except AudioError:
        raise
    except Exception:
        return None
    finally:
        container.close()


def _tags(container: Any, audio: Any) -> dict[str, str]:
    tags: dict[str, str] = {}
    for source in (container.metadata, audio.metadata):
        for key, value in dict(source).items():
            if isinstance(value, str) and value.strip():
                tags[str(key).lower()] = value
    for key in _TECHNICAL:
        tags.pop(key, None)
    return tags


def _probe(path: Path, stream: int, exact: bool) -> MediaInfo:
    """The stream's description; `exact=False` takes the container's length estimate (no decode
    and no packet scan: for a quick check of many files)."""
    container = _open(path)
    try:
        audio = _audio_stream(container, path, stream)
        ctx = audio.codec_context
        rate = int(audio.sample_rate or 0)
        channels = int(ctx.channels or 0)
        if rate <= 0 or channels <= 0:
            raise AudioError(
                f"{path}: not a readable media file (audio stream {stream} has no "
                "sample rate or channel count)"
            )
        estimate = 0
        if audio.duration is not None and audio.time_base is not None:
            estimate = round(audio.duration * audio.time_base * rate)
        elif container.duration is not None:
            estimate = round(container.duration * rate / 1_000_000)
        info = MediaInfo(
            path=path,
            sample_rate=rate,
            channels=channels,
            frames=estimate,
            codec=str(ctx.name),
            container=_container_name(container),
            stream=stream,
            audio_streams=len(container.streams.audio),
            tags=_tags(container, audio),
        )
        mp4 = _is_mp4(container)
    finally:
        container.close()
    if not exact:
        return info
    frames = _packet_end(path, stream) if mp4 else None
    if frames is None:
        frames = sum(len(block) for block in decode_blocks(path, stream))
    if frames <= 0:
        raise AudioError(f"{path}: audio is empty (0 samples)")
    return MediaInfo(**{**info.__dict__, "frames": frames})


def probe_media(path: Path, stream: int = 0, *, exact: bool = True) -> MediaInfo:
    """Describe audio stream `stream` (0: the first audio stream) of `path`, or raise a one-line
    `AudioError` naming the file. `frames` is exact (see the module's note on lengths);
    `exact=False` takes the container's estimate instead (no decode, no packet scan)."""
    return _probe(path, stream, exact=exact)


def decode_blocks(
    path: Path, stream: int = 0, block_frames: int = BLOCK_FRAMES
) -> Iterator[np.ndarray]:
    """The stream as float32 `(frames, channels)` blocks of `block_frames` (the last shorter), at
    its own rate and channel count; memory is bounded by a block. A decode error mid-file is a
    one-line `AudioError` saying where."""
    import av

    container = _open(path)
    try:
        audio = _audio_stream(container, path, stream)
        rate = int(audio.sample_rate)
        channels = int(audio.codec_context.channels)
        tb = audio.time_base
        mp4 = _is_mp4(container)
        start = max(0, audio.start_time or 0)
        limit: int | None = None  # where the packets demuxed so far end (MP4/MOV), in samples
        exact_end = mp4 and tb is not None
        resampler = av.AudioResampler(format="flt", layout=None, rate=None)
        pending: list[np.ndarray] = []
        held = 0
        done = 0  # frames yielded or pending

        def convert(frame: Any) -> np.ndarray:
            parts = [
                np.asarray(f.to_ndarray(), dtype=np.float32).reshape(-1, channels)
                for f in resampler.resample(frame)
            ]
            if not parts:
                return np.zeros((0, channels), np.float32)
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        def packets() -> Iterator[Any]:
            nonlocal limit, exact_end
            for packet in container.demux(audio):
                if exact_end and packet.pts is not None:
                    stop = (
                        _samples(packet.pts + packet.duration - start, tb, rate)
                        if packet.duration
                        else None
                    )
                    if stop is None:
                        exact_end, limit = False, None
                    else:
                        limit = stop if limit is None else max(limit, stop)
                yield packet

        try:
            for packet in packets():
                for frame in packet.decode():
                    block = convert(frame)
                    if limit is not None and done + len(block) > limit:
                        block = block[: max(0, limit - done)]
                    if not len(block):
                        continue
                    pending.append(block)
                    held += len(block)
                    done += len(block)
                    while held >= block_frames:
                        joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
                        yield np.ascontiguousarray(joined[:block_frames])
                        rest = joined[block_frames:]
                        pending, held = ([rest] if len(rest) else []), len(rest)
        except AudioError:
            raise
        except (av.FFmpegError, ValueError, EOFError) as exc:
            raise AudioError(
                f"{path}: corrupt or truncated at {done / rate:.1f} s ({_reason(exc)})"
            ) from None
        if held:
            yield np.ascontiguousarray(np.concatenate(pending))
    finally:
        container.close()


def read_media(path: Path, stream: int = 0) -> tuple[np.ndarray, int]:
    """The whole stream as float32 `(frames, channels)` and its rate (for short files)."""
    info = _probe(path, stream, exact=False)
    blocks = list(decode_blocks(path, stream))
    if not blocks:
        raise AudioError(f"{path}: audio is empty (0 samples)")
    return np.concatenate(blocks), info.sample_rate


_OGG_TAIL = 1 << 16
"""Bytes read from the end of a file to find its last Ogg page (pages are at most 65 307)."""


def ogg_cut_short(path: Path) -> bool:
    """Whether `path` is an Ogg file whose last page lacks the end-of-stream flag: a cut file
    (Ogg declares no length, so the data's end looks like the stream's end otherwise)."""
    try:
        with path.open("rb") as f:
            if f.read(4) != b"OggS":
                return False
            size = f.seek(0, 2)
            f.seek(max(0, size - _OGG_TAIL))
            tail = f.read()
    except OSError:
        return False
    at = tail.rfind(b"OggS")
    while at >= 0:
        header = tail[at : at + 27]
        if len(header) == 27 and header[4] == 0:  # stream structure version 0: a page header
            return not header[5] & 0x04
        at = tail.rfind(b"OggS", 0, at)
    return True
