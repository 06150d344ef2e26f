"""Audio I/O: validated, block-wise reading and atomic block-wise writing.

Reading (libsndfile for WAV/FLAC/AIFF/Ogg, FFmpeg through `splifft_core.media` for the rest)
maps the file to the model's channel layout and sample rate (soxr); writing maps the model's
output back to the input's rate and encodes it (`splifft_core.encoding`). Neither holds a whole
track in memory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import soundfile as sf

from splifft_core import atomic
from splifft_core.encoding import (
    FORMATS,
    Codec,
    OutputFormat,
    check_encoding,
    encode_stem,
    output_format,
)
from splifft_core.errors import AudioError, OutputError

if TYPE_CHECKING:
    from splifft_core.hub import Notify

BLOCK_FRAMES = 1 << 18
"""Frames per block when streaming a file (~6 s at 44.1 kHz)."""

SUBTYPES: dict[int, str] = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}

ClipMode = Literal["rescale", "clamp", "none"]
"""What happens to stem samples beyond full scale (±1):

- `rescale`: every stem of the track is scaled by one factor, `1 / peak`, so none clips and they
  still sum to the mixture (demucs' default);
- `clamp`: samples are clipped to ±1, 32-bit float output included;
- `none`: samples are written as they are: 32-bit float keeps them, PCM clips them.
"""

CLIP_MODES: tuple[ClipMode, ...] = ("rescale", "clamp", "none")

_VERIFY_FRAMES = 1 << 13
"""Frames decoded at the end of a finished stem to prove the encoder's last flush reached disk."""


_MEDIA = (
    ".m4a .m4b .mp4 .m4v .mov .3gp .mkv .mka .webm .aac .adts .wma .asf .opus .mp3 .mp2 "
    ".ac3 .eac3 .dts .ape .wv .tta .mpc .amr .avi .flv .m2ts .mts .mpg .mpeg .vob .spx"
)
MEDIA_EXTENSIONS = frozenset(_MEDIA.split())
"""Extensions FFmpeg (PyAV, `splifft_core.media`) reads that people keep music in; a
`.stem.mp4` is an `.mp4`."""

SOUNDFILE_SKIPS = frozenset({".mp3", ".opus"})
"""Read through FFmpeg although libsndfile opens them: FFmpeg drops the mp3 encoder delay (LAME
header) and the Opus pre-skip exactly."""


def audio_extensions() -> set[str]:
    """File extensions splifft reads (libsndfile's and FFmpeg's), lower case with the dot."""
    exts = {f".{fmt.lower()}" for fmt in sf.available_formats()}
    exts |= {".aif", ".aiff", ".oga", ".opus", ".mp3", ".wav", ".flac", ".ogg"}
    exts -= {".raw"}
    return exts | MEDIA_EXTENSIONS


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int
    tags: dict[str, str] = field(default_factory=dict)
    """A media file's title, artist, album, … as FFmpeg reads them (lower-case keys); empty for
    libsndfile's formats, whose tags `FileSource` reads."""


def uses_soundfile(path: Path, stream: int = 0) -> bool:
    """Whether `path` is read with libsndfile (`False`: through FFmpeg, `splifft_core.media`):
    libsndfile for what it opens (it is faster for FLAC and WAV), FFmpeg for the rest, for a
    `stream` other than the first, and for `SOUNDFILE_SKIPS`."""
    if stream != 0 or path.suffix.lower() in SOUNDFILE_SKIPS:
        return False
    try:
        sf.info(str(path))
    except Exception:
        return path.suffix.lower() not in MEDIA_EXTENSIONS and not _ffmpeg_reads(path)
    return True


def _ffmpeg_reads(path: Path) -> bool:
    try:
        import av

        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except Exception:
        return False


def probe(path: Path, stream: int = 0) -> AudioInfo:
    """Open `path` as audio (audio stream `stream` of a media file), or raise a one-line
    `AudioError` naming it. For a file FFmpeg reads, `frames` is the container's estimate:
    `FileSource` counts the frames exactly as it decodes."""
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: not a readable audio file (file is empty)")
    if not uses_soundfile(path, stream):
        from splifft_core.media import probe_media

        media = probe_media(path, stream, exact=False)
        return AudioInfo(
            path, media.sample_rate, media.channels, max(media.frames, 1), dict(media.tags)
        )
    try:
        info = sf.info(str(path))
    except Exception as exc:
        reason = " ".join(str(exc).split()).rsplit(":", 1)[-1].strip() or "unknown format"
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


def clock(seconds: float) -> str:
    """`m:ss.s` (`h:mm:ss.s` from an hour on): a position in a track for messages."""
    tenths = round(seconds * 10)
    minutes, rest = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    head = f"{hours}:{minutes:02d}" if hours else f"{minutes}"
    return f"{head}:{rest // 10:02d}.{rest % 10}"


def _seconds(frames: int, other: int, rate: int) -> tuple[str, str]:
    """Two lengths in seconds, with enough decimals to tell them apart."""
    for digits in (1, 3):
        a, b = f"{frames / rate:.{digits}f}", f"{other / rate:.{digits}f}"
        if a != b:
            break
    return a, b


def declared_frames(path: Path) -> int | None:
    """The frame count a WAV or AIFF header declares (`None`: other formats, or unknown).

    For WAV it is given only when the `data` chunk claims more bytes than the file holds (the
    header's count is otherwise what libsndfile reports); libsndfile silently reads what is there.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(12)
            if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
                endian = "<"
            elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
                endian = ">"
            else:
                return None
            block_align = 0
            pos = 12
            while pos + 8 <= size:
                f.seek(pos)
                chunk, length = struct.unpack(f"{endian}4sI", f.read(8))
                body = f.read(16)
                if chunk == b"fmt " and len(body) >= 14:
                    block_align = int(struct.unpack("<H", body[12:14])[0])
                elif chunk == b"data":
                    if length in (0, 0xFFFFFFFF) or not block_align or pos + 8 + length <= size:
                        return None
                    return int(length) // block_align
                elif chunk == b"COMM" and len(body) >= 6:
                    return int(struct.unpack(">I", body[2:6])[0])
                pos += 8 + length + (length & 1)
    except (OSError, struct.error):
        return None
    return None


def default_notify(notify: Notify | None) -> Notify:
    """`notify`, or the `splifft` logger (`splifft_core.hub.log_message`) when it is `None`."""
    if notify is not None:
        return notify
    from splifft_core.hub import log_message

    return log_message


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < (1 << 16)
    except OSError:
        return False


def write_reason(exc: BaseException, file: Any, folder: Path) -> str:
    """Why a write failed, in a few words: the OS's reason when libsndfile knows it."""
    if isinstance(exc, OSError) and exc.strerror:
        return str(exc.strerror)
    detail = ""
    handle = getattr(file, "_file", None)
    if isinstance(exc, sf.LibsndfileError) and handle is not None:
        with contextlib.suppress(Exception):
            detail = sf._ffi.string(sf._snd.sf_strerror(handle)).decode(errors="replace")
    if detail.startswith("System error") and ":" in detail:
        return detail.split(":", 1)[1].strip().rstrip(".")
    if isinstance(exc, OSError | sf.LibsndfileError) and _disk_full(folder):
        return os.strerror(errno.ENOSPC)
    return " ".join(str(exc).split()).rstrip(".") or type(exc).__name__


WRITE_ERRORS = (RuntimeError, OSError, AssertionError)
"""What soundfile raises when a write fails (`LibsndfileError` is a `RuntimeError`; a failed
encoder call can surface as soundfile's `assert written == frames`)."""


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
    The pass also counts the samples: a file whose data ends before its header says (a cut
    download, a recorder that died) is separated as far as its data goes, `info.frames` is that
    length, and `notify` says so.
    """

    def __init__(
        self,
        path: Path,
        model_rate: int,
        model_channels: int,
        *,
        downmix: bool = False,
        temp_dir: Path | None = None,
        notify: Notify | None = None,
        stream: int = 0,
    ) -> None:
        self.info = probe(path, stream)
        self.path = path
        self.stream = stream
        self._media = not uses_soundfile(path, stream)
        self.tags: dict[str, str] = self._read_tags()
        """The input's title, artist, album, … (lower-case keys), for the stems' metadata."""
        self._channels = model_channels
        self._temp: Path | None = None
        name = str(path)
        # Channel count problems are reported before any work is done.
        map_channels(np.zeros((1, self.info.channels), np.float32), model_channels, downmix, name)
        try:
            if self.info.sample_rate == model_rate and not self._media:
                frames = self._validate()
                self._file = sf.SoundFile(str(path))
                self._length = min(frames, self.info.frames)
                self._mapped = True
            else:
                frames, written = self._resample_to_temp(model_rate, downmix, temp_dir)
                assert self._temp is not None
                self._file = sf.SoundFile(str(self._temp))
                self._length = self._file.frames
                self._mapped = False
                if self._length != written:
                    raise OutputError(
                        f"{self._temp.parent}: cannot write the resampled copy of {path} "
                        f"(it holds {self._length} of {written} frames; set TMPDIR to a folder "
                        "with room)"
                    )
            self._check_length(frames, notify)
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

    def _read_tags(self) -> dict[str, str]:
        if self._media:
            return dict(self.info.tags)  # read with the probe
        tags: dict[str, str] = {}
        with contextlib.suppress(Exception), sf.SoundFile(str(self.path)) as f:
            for key, value in f.copy_metadata().items():
                if value:
                    tags[str(key).lower()] = str(value)
        return tags

    def _blocks(self) -> Any:
        if self._media:
            from splifft_core.media import decode_blocks

            yield from decode_blocks(self.path, self.stream, BLOCK_FRAMES)
            return
        with sf.SoundFile(str(self.path)) as f:
            while True:
                block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if len(block) == 0:
                    break
                yield block

    def _validate(self) -> int:
        """Check every sample; the number of frames the file really holds."""
        frames = 0
        for block in self._blocks():
            check_finite(block, str(self.path))
            frames += len(block)
        return frames

    def _check_length(self, frames: int, notify: Notify | None) -> None:
        """Warn when the data ends before the header says; `info.frames` becomes the real length."""
        rate = self.info.sample_rate
        if frames == 0:
            raise AudioError(f"{self.path}: audio is empty (0 samples)")
        header = max(self.info.frames, declared_frames(self.path) or 0)
        # A media file's declared length is an estimate (Ogg counts the pre-skip, an mp3 without
        # a Xing header guesses from its bitrate): only a clear shortfall is a cut file.
        short = header - frames > max(rate, header // 20) if self._media else frames < header
        if short:
            said, real = _seconds(header, frames, rate)
            message = (
                f"{self.path}: header says {said} s but the data ends at {real} s; "
                f"separating {real} s"
            )
            default_notify(notify)(message)
        elif self._media:
            from splifft_core.media import ogg_cut_short

            if ogg_cut_short(self.path):
                real = f"{frames / rate:.1f}"
                default_notify(notify)(
                    f"{self.path}: the Ogg stream ends without its last page (cut short?); "
                    f"separating {real} s"
                )
        if frames != self.info.frames:
            self.info = replace(self.info, frames=frames)

    def _resample_to_temp(
        self, model_rate: int, downmix: bool, temp_dir: Path | None
    ) -> tuple[int, int]:
        """Resample (or, for a media file at the model's rate, decode) into `self._temp`; the
        frames read and the frames written."""
        self._temp = temp = atomic.temporary_file("splifft-resampled-", ".wav", temp_dir)
        same = self.info.sample_rate == model_rate
        resampler: Any = (
            (lambda block, last=False: block)
            if same
            else Resampler(self.info.sample_rate, model_rate, self._channels)
        )
        frames = written = 0
        out: Any = None

        def failed(exc: BaseException) -> OutputError:
            return OutputError(
                f"{temp.parent}: cannot write the resampled copy of {self.path} "
                f"({write_reason(exc, out, temp.parent)}; set TMPDIR to a folder with room)"
            )

        try:
            try:
                out = sf.SoundFile(
                    str(temp),
                    "w",
                    samplerate=model_rate,
                    channels=self._channels,
                    subtype="FLOAT",
                    # RF64: a plain WAV stops at 4 GiB (3.4 h of float32 stereo at 44.1 kHz)
                    format="RF64",
                )
            except WRITE_ERRORS as exc:
                raise failed(exc) from None
            try:
                for block in self._blocks():
                    check_finite(block, str(self.path))
                    frames += len(block)
                    part = resampler(map_channels(block, self._channels, downmix, str(self.path)))
                    try:
                        out.write(part)
                    except WRITE_ERRORS as exc:
                        raise failed(exc) from None
                    written += len(part)
                tail = resampler(np.zeros((0, self._channels), np.float32), last=True)
                try:
                    out.write(tail)
                    out.close()
                except WRITE_ERRORS as exc:
                    raise failed(exc) from None
                written += len(tail)
            finally:
                with contextlib.suppress(Exception):
                    out.close()
        except BaseException:
            atomic.discard(temp)
            self._temp = None
            raise
        return frames, written

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
            atomic.discard(self._temp)
            self._temp = None

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_audio(path: Path, stream: int = 0) -> tuple[np.ndarray, int]:
    """A whole file as `(channels, frames)` float32 plus its rate (for small files and tests)."""
    probe(path, stream)  # one-line errors for missing, empty or non-audio files
    if not uses_soundfile(path, stream):
        from splifft_core.media import read_media

        data, rate = read_media(path, stream)
    else:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    check_finite(data, str(path))
    return np.ascontiguousarray(data.T), int(rate)


def check_output_format(
    file_format: str,
    bit_depth: int | None = None,
    bitrate: int | None = None,
    stem_codec: Codec = "aac",
) -> str:
    """The libsndfile subtype the stems stream into (`FLOAT` for a format encoded once a stem
    is complete), or a one-line error for impossible combinations. `bit_depth` `None`: 24 for
    lossless formats; `bitrate` `None`: the format's default."""
    if bit_depth is not None and bit_depth not in SUBTYPES:
        raise OutputError(f"bit depth {bit_depth} is not supported (use 16, 24 or 32)")
    fmt = output_format(file_format)
    check_encoding(fmt, bit_depth, bitrate, stem_codec)
    return SUBTYPES[bit_depth or 24] if fmt.streamed else "FLOAT"


@dataclass
class StemWriter:
    """Writes one stem block by block into a temporary file beside its destination.

    `finish` closes the encoder and proves the file decodes to its last frame (a full disk can
    swallow a FLAC encoder's final flush without an error); `commit` then renames it into place.
    Every write error is a one-line `OutputError` naming the destination and the reason.

    Full scale: `peak` is the largest magnitude written, `clipped` the samples beyond ±1 that were
    clipped (soundfile clips PCM; `clamp` clips float too). With `clip_mode="rescale"` nothing is
    clipped: a PCM stem continues into a float32 staging file from its first block beyond full
    scale on, and `finish(scale)` re-encodes it (a float stem is rescaled in place), so when no
    sample exceeds ±1 (the usual case) the stem is encoded once, as it streams.
    """

    destination: Path
    sample_rate: int
    channels: int
    file_format: str
    subtype: str
    resampler: Resampler | None = None
    target_frames: int | None = None
    """Trim or zero-pad to exactly this many frames (the input's length)."""
    clip_mode: ClipMode = "none"
    bitrate: int | None = None
    """Lossy formats: bits per second (`None`: the format's default)."""
    bit_depth: int = 24
    """ALAC: 16 or 24 (WAV and FLAC take theirs from `subtype`)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Title, artist, album, … (FFmpeg's names) for the file's metadata."""
    temp: Path = field(init=False)
    peak: float = field(init=False, default=0.0)
    clipped: int = field(init=False, default=0)
    _written: int = field(init=False, default=0)
    _file: Any = field(init=False, default=None)
    _stage: Any = field(init=False, default=None)
    _stage_path: Path | None = field(init=False, default=None)
    _head: int = field(init=False, default=0)
    """Frames in `temp` before the staging file took over."""
    _finished: bool = field(init=False, default=False)
    _temps: list[Path] = field(init=False, default_factory=list)
    """Every temporary file this writer made; `abort` removes them all."""

    def __post_init__(self) -> None:
        self.temp = self._create_temp()
        try:
            if self.encoded is None:
                self._file = self._open(self.temp, self.file_format.upper(), self.subtype, True)
            else:  # exact float32 first; `finish` encodes it
                self._file = self._open(self.temp, "W64", "FLOAT")
        except BaseException:
            atomic.discard(self.temp)
            raise

    @property
    def encoded(self) -> OutputFormat | None:
        """The format `finish` encodes the float32 stem into; `None`: streamed as written (WAV,
        FLAC, or a libsndfile format such as W64 named directly)."""
        fmt = FORMATS.get(self.file_format)
        return None if fmt is None or fmt.streamed else fmt

    @property
    def _tagged(self) -> bool:
        """Whether `temp` holds tags (a WAV or FLAC written directly)."""
        return self.encoded is None and self.file_format in FORMATS and bool(self.tags)

    @property
    def samples(self) -> int:
        """Samples written so far (frames × channels)."""
        return self._written * self.channels

    # -- errors ------------------------------------------------------------------------------

    def _error(self, exc: BaseException, file: Any = None) -> OutputError:
        reason = write_reason(exc, file, self.destination.parent)
        return OutputError(f"{self.destination}: cannot write output ({reason})")

    def _create_temp(self) -> Path:
        try:
            temp = atomic.create_temp(self.destination)
        except OSError as exc:
            raise OutputError(
                f"{self.destination.parent}: cannot write output ({exc.strerror or exc})"
            ) from None
        self._temps.append(temp)
        return temp

    def _open(self, path: Path, file_format: str, subtype: str, tagged: bool = False) -> Any:
        from splifft_core.encoding import soundfile_tags

        try:
            file = sf.SoundFile(
                str(path),
                "w",
                samplerate=self.sample_rate,
                channels=self.channels,
                subtype=subtype,
                format=file_format,
            )
        except Exception as exc:  # a full disk, or a format/subtype soundfile refuses
            raise self._error(exc) from None
        if tagged:
            soundfile_tags(file, self.tags)  # before any audio: FLAC writes its header first
        return file

    def _put(self, file: Any, block: np.ndarray) -> None:
        try:
            file.write(block)
        except WRITE_ERRORS as exc:
            raise self._error(exc, file) from None

    def _close(self, file: Any) -> None:
        try:
            file.close()
        except WRITE_ERRORS as exc:
            raise self._error(exc, file) from None

    def _verify(self, path: Path, frames: int) -> None:
        """The closed file holds `frames` frames and its last ones decode."""
        if not frames:
            return  # nothing to lose (and an empty FLAC does not open)
        ok = False
        with contextlib.suppress(*WRITE_ERRORS), sf.SoundFile(str(path)) as f:
            if f.frames == frames:
                tail = min(frames, _VERIFY_FRAMES)
                f.seek(frames - tail)
                ok = len(f.read(tail, dtype="float32", always_2d=True)) == tail
        if not ok:
            reason = (
                os.strerror(errno.ENOSPC)
                if _disk_full(self.destination.parent)
                else "the file is incomplete after closing"
            )
            raise OutputError(f"{self.destination}: cannot write output ({reason})")

    # -- writing -----------------------------------------------------------------------------

    def write(self, block: np.ndarray, last: bool = False) -> None:
        """`block`: `(frames, channels)` float32 at the model rate."""
        if self.resampler is not None:
            block = self.resampler(block, last=last)
        if self.target_frames is not None:
            block = block[: max(0, self.target_frames - self._written)]
        if not len(block):
            return
        peak = float(max(block.max(), -block.min()))  # two reductions, no copy
        if peak > self.peak:
            self.peak = peak
        if peak > 1.0:
            if self.clip_mode == "rescale":
                if self._stage is None and self.subtype != "FLOAT":
                    self._start_staging()
            elif self.clip_mode == "clamp" or self.subtype != "FLOAT":
                self.clipped += int(np.count_nonzero(np.abs(block) > 1.0))
                if self.subtype == "FLOAT":  # soundfile clips PCM itself
                    block = np.clip(block, -1.0, 1.0)
        self._put(self._file if self._stage is None else self._stage, block)
        self._written += len(block)

    def _start_staging(self) -> None:
        """From now on, float32 beside the stem: `finish` re-encodes head and tail scaled."""
        self._head = self._written
        self._stage_path = self._create_temp()
        self._stage = self._open(self._stage_path, "W64", "FLOAT")

    def finish(self, scale: float = 1.0) -> None:
        """Pad to `target_frames`, close and verify the file; scale it by `scale` if not 1.

        Nothing is renamed: a failure leaves no temporary file and the destination as it was.
        """
        if self._finished:
            return
        try:
            if self.target_frames is not None and self._written < self.target_frames:
                pad = np.zeros((self.target_frames - self._written, self.channels), np.float32)
                self._put(self._file if self._stage is None else self._stage, pad)
                self._written += len(pad)
            self._close(self._file)
            if self._stage is not None:
                self._close(self._stage)
                self._reencode(scale)
            elif scale != 1.0 and self.subtype == "FLOAT" and not self._tagged:
                # libsndfile opens no file with tags read-write: a tagged one is re-encoded
                self._verify(self.temp, self._written)
                self._rescale_in_place(scale)
            elif scale != 1.0:
                self._reencode(scale)
            self._verify(self.temp, self._written)
            if self.encoded is not None:
                self._encode(self.encoded)
        except BaseException:
            self.abort()
            raise
        self._finished = True

    def _encode(self, fmt: OutputFormat) -> None:
        """Encode the float32 `temp` as `fmt` into a new temporary file and prove it decodes to
        its last frame (the encoder delay and padding trimmed)."""
        from splifft_core.media import probe_media

        final = self._create_temp()
        try:
            encode_stem(
                self.temp,
                final,
                fmt,
                bitrate=self.bitrate,
                bit_depth=self.bit_depth,
                tags=self.tags,
            )
        except OutputError:
            raise
        except Exception as exc:  # FFmpeg's and libsndfile's errors, a full disk
            raise self._error(exc) from None
        try:
            frames = probe_media(final).frames if self._written else 0
        except AudioError:
            frames = -1
        if frames != self._written:
            reason = (
                os.strerror(errno.ENOSPC)
                if _disk_full(self.destination.parent)
                else "the file is incomplete after closing"
            )
            raise OutputError(f"{self.destination}: cannot write output ({reason})")
        staged, self.temp = self.temp, final
        atomic.discard(staged)

    def _rescale_in_place(self, scale: float) -> None:
        try:
            with sf.SoundFile(str(self.temp), "r+") as f:
                position = 0
                while position < f.frames:
                    f.seek(position)
                    block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                    if not len(block):
                        break
                    block *= np.float32(scale)
                    f.seek(position)
                    f.write(block)
                    position += len(block)
        except WRITE_ERRORS as exc:
            raise self._error(exc) from None

    def _reencode(self, scale: float) -> None:
        """Decode `temp` (and the staging file), scale, encode into a new temporary file."""
        head = self._head if self._stage_path is not None else self._written
        parts = [(self.temp, head)]
        if self._stage_path is not None:
            parts.append((self._stage_path, self._written - head))
        parts = [(path, frames) for path, frames in parts if frames]  # an empty FLAC won't open
        final = self._create_temp()
        pcm = self.file_format.upper() if self.encoded is None else "W64"
        try:
            out = self._open(final, pcm, self.subtype, self.encoded is None)
            try:
                for path, frames in parts:
                    got = 0
                    try:
                        with sf.SoundFile(str(path)) as src:
                            while True:
                                block = src.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                                if not len(block):
                                    break
                                block *= np.float32(scale)
                                self._put(out, block)
                                got += len(block)
                    except WRITE_ERRORS as exc:
                        raise self._error(exc) from None
                    if got != frames:
                        raise OutputError(
                            f"{self.destination}: cannot write output "
                            "(the file is incomplete after closing)"
                        )
                self._close(out)
            finally:
                with contextlib.suppress(Exception):
                    out.close()
        except BaseException:
            atomic.discard(final)
            raise
        old: list[Path | None] = [self.temp, self._stage_path]
        self.temp, self._stage, self._stage_path = final, None, None
        for leftover in old:
            if leftover is not None:
                atomic.discard(leftover)

    def commit(self) -> Path:
        """Finish the file (unless `finish` did) and rename it onto the destination (with
        plain-file permissions)."""
        self.finish()
        try:
            return atomic.commit(self.temp, self.destination)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise OutputError(
                    f"{self.destination}: cannot write output ({exc.strerror or exc})"
                ) from None
            raise

    def abort(self) -> None:
        """Drop the temporary files; the destination stays as it was."""
        for file in (self._file, self._stage):
            if file is not None:
                with contextlib.suppress(Exception):
                    file.close()
        for temp in self._temps:  # the one committed is gone already
            atomic.discard(temp)
