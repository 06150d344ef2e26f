"""Audio I/O with soundfile: validated, block-wise reading and atomic block-wise writing.

Reading maps the file to the model's channel layout and sample rate (soxr); writing maps the
model's output back to the input's rate. Neither holds a whole track in memory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from splifft_core.errors import AudioError, OutputError

BLOCK_FRAMES = 1 << 18
"""Frames per block when streaming a file (~6 s at 44.1 kHz)."""

SUBTYPES: dict[int, str] = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}


def audio_extensions() -> set[str]:
    """File extensions libsndfile can read, lower case with the dot."""
    exts = {f".{fmt.lower()}" for fmt in sf.available_formats()}
    exts |= {".aif", ".aiff", ".oga", ".opus", ".mp3", ".wav", ".flac", ".ogg"}
    exts -= {".raw"}
    return exts


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int


def probe(path: Path) -> AudioInfo:
    """Open `path` as audio, or raise a one-line `AudioError` naming it."""
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    try:
        info = sf.info(str(path))
    except Exception as exc:
        reason = " ".join(str(exc).split()).rsplit(":", 1)[-1].strip() or "unknown format"
        if path.stat().st_size == 0:
            reason = "file is empty"
        raise AudioError(f"{path}: not a readable audio file ({reason})") from None
    if info.frames <= 0:
        raise AudioError(f"{path}: audio is empty (0 samples)")
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames))


def map_channels(block: np.ndarray, model_channels: int, downmix: bool, name: str) -> np.ndarray:
    """`(frames, in_channels)` → `(frames, model_channels)`.

    Mono → stereo duplicates; stereo → mono averages; more channels than the model takes is an
    error unless `downmix` (average to mono, then duplicate).
    """
    in_channels = block.shape[1]
    if in_channels == model_channels:
        return block
    if model_channels == 1:
        return np.asarray(block.mean(axis=1, keepdims=True), dtype=np.float32)
    if in_channels == 1:
        return np.repeat(block, model_channels, axis=1)
    if downmix:
        return np.repeat(block.mean(axis=1, keepdims=True), model_channels, axis=1).astype(
            np.float32
        )
    raise AudioError(
        f"{name}: has {in_channels} channels, the model takes {model_channels} "
        "(pass --downmix to mix it down)"
    )


def check_finite(block: np.ndarray, name: str) -> None:
    if not np.isfinite(block).all():
        raise AudioError(f"{name}: audio contains NaN or infinite samples")


class Resampler:
    """Streaming soxr resampler over `(frames, channels)` float32 blocks."""

    def __init__(self, in_rate: int, out_rate: int, channels: int) -> None:
        import soxr

        self._stream = soxr.ResampleStream(
            in_rate, out_rate, channels, dtype="float32", quality="HQ"
        )

    def __call__(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        out = self._stream.resample_chunk(np.ascontiguousarray(block, dtype=np.float32), last=last)
        return np.asarray(out, dtype=np.float32).reshape(-1, block.shape[1])


def resample(audio: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """Resample a whole `(frames, channels)` array."""
    if in_rate == out_rate:
        return audio
    import soxr

    out = soxr.resample(
        np.ascontiguousarray(audio, dtype=np.float32), in_rate, out_rate, quality="HQ"
    )
    return np.asarray(out, dtype=np.float32).reshape(-1, audio.shape[1])


class FileSource:
    """A file as random-access float32 audio at the model's rate and channel layout.

    Opening validates every sample (NaN, infinities) in one streamed pass; when the rates differ
    the same pass resamples into a temporary float32 file, so the track is never held in memory.
    """

    def __init__(
        self,
        path: Path,
        model_rate: int,
        model_channels: int,
        *,
        downmix: bool = False,
        temp_dir: Path | None = None,
    ) -> None:
        self.info = probe(path)
        self.path = path
        self._channels = model_channels
        self._temp: Path | None = None
        name = str(path)
        # Channel count problems are reported before any work is done.
        map_channels(np.zeros((1, self.info.channels), np.float32), model_channels, downmix, name)
        try:
            if self.info.sample_rate == model_rate:
                self._validate()
                self._file = sf.SoundFile(str(path))
                self._length = self.info.frames
                self._mapped = True
            else:
                self._temp = self._resample_to_temp(model_rate, downmix, temp_dir)
                self._file = sf.SoundFile(str(self._temp))
                self._length = self._file.frames
                self._mapped = False
        except sf.LibsndfileError as exc:
            self.close()
            raise AudioError(f"{path}: cannot decode audio ({exc})") from None
        except BaseException:
            self.close()
            raise
        self._downmix = downmix
        self._cache_start = 0
        self._cache = np.zeros((0, model_channels), np.float32)

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def length(self) -> int:
        return self._length

    def _blocks(self) -> Any:
        with sf.SoundFile(str(self.path)) as f:
            while True:
                block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if len(block) == 0:
                    break
                yield block

    def _validate(self) -> None:
        for block in self._blocks():
            check_finite(block, str(self.path))

    def _resample_to_temp(self, model_rate: int, downmix: bool, temp_dir: Path | None) -> Path:
        fd, name = tempfile.mkstemp(suffix=".wav", prefix="splifft-resampled-", dir=temp_dir)
        os.close(fd)
        temp = Path(name)
        resampler = Resampler(self.info.sample_rate, model_rate, self._channels)
        try:
            with sf.SoundFile(
                str(temp),
                "w",
                samplerate=model_rate,
                channels=self._channels,
                subtype="FLOAT",
                format="WAV",
            ) as out:
                for block in self._blocks():
                    check_finite(block, str(self.path))
                    mapped = map_channels(block, self._channels, downmix, str(self.path))
                    out.write(resampler(mapped))
                out.write(resampler(np.zeros((0, self._channels), np.float32), last=True))
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp

    def read(self, start: int, stop: int) -> Any:
        import torch

        cache_end = self._cache_start + len(self._cache)
        if not (self._cache_start <= start and stop <= cache_end):
            # Chunks arrive in increasing order and overlap: read ahead one block at a time.
            span = max(stop - start, BLOCK_FRAMES)
            self._file.seek(start)
            raw = self._file.read(min(span, self._length - start), dtype="float32", always_2d=True)
            if self._mapped:
                raw = map_channels(raw, self._channels, self._downmix, str(self.path))
            self._cache_start, self._cache = start, raw
        lo = start - self._cache_start
        block = self._cache[lo : lo + (stop - start)]
        return torch.from_numpy(np.ascontiguousarray(block.T))

    def close(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None:
            file.close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """A whole file as `(channels, frames)` float32 plus its rate (for small files and tests)."""
    probe(path)  # one-line errors for missing, empty or non-audio files
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    check_finite(data, str(path))
    return np.ascontiguousarray(data.T), int(rate)


def check_output_format(file_format: str, bit_depth: int) -> str:
    """The soundfile subtype, or a one-line error for impossible combinations."""
    if bit_depth not in SUBTYPES:
        raise OutputError(f"bit depth {bit_depth} is not supported (use 16, 24 or 32)")
    if file_format not in {"wav", "flac"}:
        raise OutputError(f"format {file_format!r} is not supported (use wav or flac)")
    if file_format == "flac" and bit_depth == 32:
        raise OutputError(
            "FLAC cannot store 32-bit float samples (use --format wav or --bit-depth 24)"
        )
    return SUBTYPES[bit_depth]


@dataclass
class StemWriter:
    """Writes one stem block by block into a temporary file beside its destination."""

    destination: Path
    sample_rate: int
    channels: int
    file_format: str
    subtype: str
    resampler: Resampler | None = None
    target_frames: int | None = None
    """Trim or zero-pad to exactly this many frames (the input's length)."""
    temp: Path = field(init=False)
    _written: int = field(init=False, default=0)
    _file: Any = field(init=False)

    def __post_init__(self) -> None:
        try:
            self.destination.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(
                prefix=f".{self.destination.name}.", suffix=".part", dir=self.destination.parent
            )
            os.close(fd)
        except OSError as exc:
            raise OutputError(
                f"{self.destination.parent}: cannot write output ({exc.strerror or exc})"
            ) from None
        self.temp = Path(name)
        self._file = sf.SoundFile(
            str(self.temp),
            "w",
            samplerate=self.sample_rate,
            channels=self.channels,
            subtype=self.subtype,
            format=self.file_format.upper(),
        )

    def write(self, block: np.ndarray, last: bool = False) -> None:
        """`block`: `(frames, channels)` float32 at the model rate."""
        if self.resampler is not None:
            block = self.resampler(block, last=last)
        if self.subtype != "FLOAT":
            block = np.clip(block, -1.0, 1.0)
        if self.target_frames is not None:
            block = block[: max(0, self.target_frames - self._written)]
        if len(block):
            self._file.write(block)
            self._written += len(block)

    def commit(self) -> Path:
        if self.target_frames is not None and self._written < self.target_frames:
            self._file.write(
                np.zeros((self.target_frames - self._written, self.channels), np.float32)
            )
        self._file.close()
        # mkstemp creates 0600 files; give the stem the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.temp, 0o666 & ~umask)
        os.replace(self.temp, self.destination)
        return self.destination

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._file.close()
        self.temp.unlink(missing_ok=True)
