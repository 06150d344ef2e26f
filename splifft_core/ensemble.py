"""Combine several estimates of one stem into one (an ensemble), offline, numpy only.

The types are MSST's eight (`ensemble.py`'s `average_waveforms`) and audio-separator's three
more (its `Ensembler`); results equal theirs, quirks included:

- `avg_wave`, `median_wave`, `min_wave`, `max_wave`: per sample; `avg` weighted
  (`Σ wᵢ xᵢ / Σ wᵢ`), `min`/`max` take the sample of least/largest magnitude (the first on ties);
- `avg_fft`, `median_fft`, `min_fft`, `max_fft`: the same per STFT bin (Hann, n_fft 2048, hop
  1024, centred with zero padding, librosa's conventions), then the inverse STFT to the input
  length. `median_fft` is numpy's median of complex numbers, as MSST computes it: complex
  numbers sort by real part, then imaginary part (audio-separator takes the medians of the real
  and imaginary parts separately instead, which differs in the imaginary part);
- `uvr_max_spec`, `uvr_min_spec`: UVR's "Max Spec"/"Min Spec": per bin the largest/least
  magnitude, a later input winning ties; the inverse STFT without a length (whole hops), the
  tail zero-padded to the input length as UVR's own ensembling does;
- `ensemble_wav`: audio-separator's: per channel, the input channel with the least mean
  magnitude (UVR's `ensemble_wav` splits its array's first axis into 240 parts, which with
  audio-separator's channels-first arrays are the channels).

Only `avg_*` use the weights. Block-wise use (a streaming ensemble): `combine_waves` is per
sample, so any aligned blocks of the inputs can be combined; `combine_spectra` is per STFT bin,
so any aligned frames of the inputs' STFTs can be (the STFT and its overlap-add are the
caller's). `ensemble_wav` needs every input's whole-channel mean first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from splifft_core.errors import AudioError, ConfigError, OutputError
from splifft_core.types import EnsembleType

if TYPE_CHECKING:
    from splifft_core.hub import Notify

ENSEMBLE_TYPES: tuple[EnsembleType, ...] = get_args(EnsembleType)
WAVE_TYPES: tuple[EnsembleType, ...] = ("avg_wave", "median_wave", "min_wave", "max_wave")
SPECTRAL_TYPES: tuple[EnsembleType, ...] = (
    "avg_fft",
    "median_fft",
    "min_fft",
    "max_fft",
    "uvr_max_spec",
    "uvr_min_spec",
)
WEIGHTED_TYPES: tuple[EnsembleType, ...] = ("avg_wave", "avg_fft")

Weights = Sequence[float] | np.ndarray | None
"""One weight per input; `None`: all 1."""

N_FFT = 2048
HOP = 1024
UVR_SEGMENTS = 240
"""UVR's `ensemble_wav` split size."""


def check_type(kind: str) -> EnsembleType:
    """`kind` as an `EnsembleType`, or a one-line `ConfigError` listing them."""
    if kind not in ENSEMBLE_TYPES:
        raise ConfigError(f"ensemble type {kind!r} is unknown (use {', '.join(ENSEMBLE_TYPES)})")
    return kind


def check_weights(weights: Weights, count: int) -> np.ndarray:
    """One weight per input (default: all 1), finite, with a non-zero sum."""
    if weights is None:
        return np.ones(count)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (count,):
        raise ConfigError(f"{len(w)} weights for {count} inputs (give one per input)")
    if not np.all(np.isfinite(w)) or w.sum() == 0:
        raise ConfigError("weights must be finite numbers with a non-zero sum")
    return w


# -- the STFT (librosa's defaults: periodic Hann, centred, zero padding) ------------------------


def hann_window() -> np.ndarray:
    """The periodic Hann window of `N_FFT` samples the spectral types use (librosa's)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)


def stft(wave: np.ndarray) -> np.ndarray:
    """`(..., frames)` → `(..., 1 + N_FFT // 2, 1 + frames // HOP)` complex128."""
    pad = [(0, 0)] * (wave.ndim - 1) + [(N_FFT // 2, N_FFT // 2)]
    padded = np.pad(np.asarray(wave, dtype=np.float64), pad)
    count = 1 + (padded.shape[-1] - N_FFT) // HOP
    starts = np.arange(count) * HOP
    frames = padded[..., starts[:, None] + np.arange(N_FFT)]  # (..., count, N_FFT)
    spec: np.ndarray = np.fft.rfft(frames * hann_window(), axis=-1)
    return np.swapaxes(spec, -1, -2)


def istft(spec: np.ndarray, length: int | None = None) -> np.ndarray:
    """Overlap-add inverse of `stft`, divided by the summed squared window where it is not ~0;
    `length`: trimmed or zero-padded to it, else whole hops (`HOP × (count − 1)` samples)."""
    count = spec.shape[-1]
    frames = np.fft.irfft(np.swapaxes(spec, -1, -2), n=N_FFT, axis=-1) * hann_window()
    total = N_FFT + HOP * (count - 1)
    out = np.zeros((*spec.shape[:-2], total))
    norm = np.zeros(total)
    for t in range(count):
        out[..., t * HOP : t * HOP + N_FFT] += frames[..., t, :]
        norm[t * HOP : t * HOP + N_FFT] += hann_window() ** 2
    nonzero = norm > np.finfo(np.float32).tiny
    out[..., nonzero] /= norm[nonzero]
    start = N_FFT // 2
    if length is None:
        return out[..., start : total - start]
    out = out[..., start : start + length]
    if out.shape[-1] < length:
        out = np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, length - out.shape[-1])])
    return out


# -- the combining rules -------------------------------------------------------------------------


def _pick(stack: np.ndarray, index: np.ndarray) -> np.ndarray:
    picked: np.ndarray = np.take_along_axis(stack, index[None], axis=0)[0]
    return picked


def _complex_median(stack: np.ndarray) -> np.ndarray:
    """numpy's median over axis 0 of complex numbers (ordered by real, then imaginary part)."""
    order = np.lexsort((stack.imag, stack.real), axis=0)
    ranked = np.take_along_axis(stack, order, axis=0)
    n = len(stack)
    middle: np.ndarray = ranked[n // 2] if n % 2 else (ranked[n // 2 - 1] + ranked[n // 2]) / 2
    return middle


def _weighted_mean(stack: np.ndarray, weights: Weights) -> np.ndarray:
    w = check_weights(weights, len(stack))
    mean: np.ndarray = np.tensordot(w, stack, axes=1) / w.sum()
    return mean


def combine_waves(
    kind: str,
    waves: Sequence[np.ndarray] | np.ndarray,
    weights: Weights = None,
) -> np.ndarray:
    """One of `WAVE_TYPES` over aligned `(channels, frames)` blocks (one per input): per sample,
    so blocks of any size give the same result as whole files."""
    if kind not in WAVE_TYPES:
        raise ConfigError(f"{kind!r} is not a waveform ensemble ({', '.join(WAVE_TYPES)})")
    stack = np.asarray(waves)
    if kind == "avg_wave":
        return _weighted_mean(stack, weights)
    if kind == "median_wave":
        median: np.ndarray = np.median(stack, axis=0)
        return median
    magnitude = np.abs(stack)
    return _pick(stack, magnitude.argmin(0) if kind == "min_wave" else magnitude.argmax(0))


def combine_spectra(
    kind: str,
    specs: Sequence[np.ndarray] | np.ndarray,
    weights: Weights = None,
) -> np.ndarray:
    """One of `SPECTRAL_TYPES` over aligned complex STFT frames (one array per input, e.g.
    `(channels, bins, frames)`): per bin, so frames can come in blocks."""
    if kind not in SPECTRAL_TYPES:
        raise ConfigError(f"{kind!r} is not a spectral ensemble ({', '.join(SPECTRAL_TYPES)})")
    stack = np.asarray(specs)
    if kind == "avg_fft":
        return _weighted_mean(stack, weights)
    if kind == "median_fft":
        return _complex_median(stack)
    magnitude = np.abs(stack)
    if kind == "min_fft":
        return _pick(stack, magnitude.argmin(0))
    if kind == "max_fft":
        return _pick(stack, magnitude.argmax(0))
    # UVR folds the inputs in order with `<=`/`>=`: the last of equal magnitudes wins
    last = len(stack) - 1
    flipped = magnitude[::-1]
    index = flipped.argmax(0) if kind == "uvr_max_spec" else flipped.argmin(0)
    return _pick(stack, last - index)


def least_loud_channels(waves: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """`ensemble_wav`: for each of UVR's 240 parts of the channel axis, the inputs' part of
    least mean magnitude (the first on ties)."""
    stack = np.asarray(waves)
    out: np.ndarray = np.empty_like(stack[0])
    for part in np.array_split(np.arange(stack.shape[1]), UVR_SEGMENTS):
        if len(part):
            means = np.abs(stack[:, part]).mean(axis=(1, 2))
            out[part] = stack[int(np.argmin(means)), part]
    return out


def ensemble(
    kind: str,
    waves: Sequence[np.ndarray] | np.ndarray,
    weights: Weights = None,
) -> np.ndarray:
    """Whole `(channels, frames)` inputs of one shape → their ensemble, float32, same shape."""
    kind = check_type(kind)
    stack = np.asarray(waves, dtype=np.float32)
    if stack.ndim != 3 or not len(stack):
        raise ConfigError("ensemble needs inputs of one shape (channels, frames)")
    length = stack.shape[-1]
    if kind in WAVE_TYPES:
        out = combine_waves(kind, stack, weights)
    elif kind == "ensemble_wav":
        out = least_loud_channels(stack)
    else:
        check_weights(weights, len(stack))
        spec = combine_spectra(kind, [stft(w) for w in stack], weights)
        if kind.startswith("uvr_"):
            out = istft(spec)
            out = np.pad(out, [(0, 0), (0, length - out.shape[-1])])
        else:
            out = istft(spec, length)
    return np.asarray(out, dtype=np.float32)


# -- files ---------------------------------------------------------------------------------------


def align(
    inputs: Sequence[tuple[np.ndarray, int]],
    names: Sequence[str],
    notify: Notify | None = None,
) -> tuple[np.ndarray, int]:
    """`(channels, frames)` arrays at their rates → one `(inputs, channels, frames)` stack at the
    first one's rate (soxr), mono inputs repeated to the others' channel count, shorter ones
    zero-padded to the longest."""
    from splifft_core.audio import resample

    say: Notify = notify if notify is not None else (lambda message: None)
    rate = inputs[0][1]
    arrays = []
    for (data, r), name in zip(inputs, names, strict=True):
        if r != rate:
            say(f"{name}: resampled from {r} Hz to {rate} Hz (the first input's rate)")
            data = resample(data.T, r, rate).T
        arrays.append(data)
    channels = max(a.shape[0] for a in arrays)
    for i, (a, name) in enumerate(zip(arrays, names, strict=True)):
        if a.shape[0] == channels:
            continue
        if a.shape[0] != 1:
            raise AudioError(
                f"{name}: {a.shape[0]} channels, but another input has {channels} (only a mono "
                "input is repeated to match)"
            )
        arrays[i] = np.repeat(a, channels, axis=0)
    frames = max(a.shape[1] for a in arrays)
    if any(a.shape[1] != frames for a in arrays):
        say(f"inputs differ in length; the shorter are padded with silence to {frames} frames")
    stack = np.zeros((len(arrays), channels, frames), np.float32)
    for i, a in enumerate(arrays):
        stack[i, :, : a.shape[1]] = a
    return stack, rate


def format_for(output: Path) -> str:
    """The `--format` an output path's suffix names (`.m4a`: AAC)."""
    from splifft_core.encoding import FORMATS

    name = output.name.lower()
    for fmt in FORMATS.values():
        if fmt.name != "stem.mp4" and name.endswith("." + fmt.extension):
            return fmt.name
    known = ", ".join(sorted({f".{f.extension}" for f in FORMATS.values() if f.name != "stem.mp4"}))
    raise OutputError(f"{output}: cannot tell the output format from its suffix (use {known})")


def ensemble_files(
    paths: Sequence[Path],
    output: Path,
    kind: str,
    weights: Weights = None,
    *,
    file_format: str | None = None,
    bit_depth: int | None = None,
    bitrate: int | None = None,
    clip_mode: Literal["rescale", "clamp", "none"] = "rescale",
    notify: Notify | None = None,
) -> Path:
    """Read `paths` (any format `splifft run` reads), ensemble them and write `output`
    atomically in `file_format` (default: from its suffix); returns `output`."""
    from splifft_core.audio import Resampler, StemWriter, check_output_format, read_audio
    from splifft_core.encoding import output_format, output_rate

    say: Notify = notify if notify is not None else (lambda message: None)
    kind = check_type(kind)
    if len(paths) < 2:
        raise ConfigError("ensemble needs at least two input files")
    w = check_weights(weights, len(paths))
    if weights is not None and kind not in WEIGHTED_TYPES and not np.all(w == w[0]):
        say(f"weights are ignored by {kind} (only {', '.join(WEIGHTED_TYPES)} use them)")
    fmt_name = file_format or format_for(output)
    subtype = check_output_format(fmt_name, bit_depth, bitrate)
    fmt = output_format(fmt_name)
    if fmt.name == "stem.mp4":
        raise OutputError("stem.mp4 holds several stems; an ensemble is one")
    guarded = {p.resolve() for p in paths}
    if output.resolve() in guarded:
        raise OutputError(f"{output}: refusing to overwrite an input file")
    read = [read_audio(Path(p)) for p in paths]
    stack, rate = align(read, [str(p) for p in paths], say)
    result = ensemble(kind, stack, w)
    out_rate = output_rate(fmt, rate)
    frames = result.shape[1]
    resampler = None
    if out_rate != rate:
        say(f"{output}: {fmt.name} stores {out_rate} Hz, not {rate} Hz: resampled")
        resampler = Resampler(rate, out_rate, result.shape[0])
        frames = round(frames * out_rate / rate)
    writer = StemWriter(
        output,
        out_rate,
        result.shape[0],
        fmt.name,
        subtype,
        resampler,
        target_frames=frames,
        clip_mode=clip_mode,
        bitrate=bitrate,
        bit_depth=bit_depth or 24,
    )
    try:
        writer.write(np.ascontiguousarray(result.T), last=True)
        scale = 1.0
        if writer.peak > 1.0 and clip_mode == "rescale":
            scale = 1.0 / writer.peak
            say(f"{output}: peaks at {writer.peak:.2f}, rescaled by {scale:.3g} (--clip-mode)")
        elif writer.clipped:
            say(f"{output}: {writer.clipped} samples clipped (--clip-mode {clip_mode})")
        writer.finish(scale)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise
