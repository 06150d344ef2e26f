"""The chunked inference loop: pad → chunk → batch → model → window → overlap-add, streaming.

Input is read chunk by chunk from an [AudioSource][splifft_core.engine.AudioSource]; finished
output samples leave as soon as no later chunk can touch them, so memory is bounded by
`chunk_size × batch_size × stems`, not by track length.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn

from splifft_core.config import InferenceConfig
from splifft_core.manifest import DerivedStem
from splifft_core.types import PaddingMode, WindowShape, WindowTensor

WINDOW_FLOOR = 1e-8
"""Every window weight is at least this, so normalized overlap-add never divides by zero while a
zero-weight sample covered by another chunk still takes (to float precision) that chunk's value."""

ProgressCallback = Callable[[int, int], None]
"""`(chunks_done, chunks_total)`, called after every batch."""


class AudioSource(Protocol):
    """Random-access audio at the model's rate and channel layout."""

    @property
    def channels(self) -> int: ...

    @property
    def length(self) -> int: ...

    def read(self, start: int, stop: int) -> Tensor:
        """Samples `[start, stop)` as float32 `(channels, stop - start)`, `0 ≤ start < stop ≤ length`."""
        ...


@dataclass(frozen=True)
class TensorSource:
    audio: Tensor
    """(channels, samples)"""

    @property
    def channels(self) -> int:
        return int(self.audio.shape[0])

    @property
    def length(self) -> int:
        return int(self.audio.shape[1])

    def read(self, start: int, stop: int) -> Tensor:
        return self.audio[:, start:stop].float()


def make_window(shape: WindowShape, size: int, fade_size: int | None = None) -> WindowTensor:
    """A chunk window of `size` samples, floored at `WINDOW_FLOOR`."""
    if shape == "hann":
        window = torch.hann_window(size, periodic=False, dtype=torch.float64)
    elif shape == "hamming":
        window = torch.hamming_window(size, periodic=False, dtype=torch.float64)
    elif shape == "triangular":
        window = torch.bartlett_window(size, periodic=False, dtype=torch.float64)
    elif shape == "rectangular":
        window = torch.ones(size, dtype=torch.float64)
    elif shape == "linear_fade":
        fade = size // 10 if fade_size is None else min(fade_size, size // 2)
        window = torch.ones(size, dtype=torch.float64)
        if fade > 0:
            ramp = torch.linspace(0.0, 1.0, fade, dtype=torch.float64)
            window[:fade] = ramp
            window[-fade:] = ramp.flip(0)
    else:
        raise ValueError(f"unknown window shape {shape!r}")
    if size == 1:
        window = torch.ones(1, dtype=torch.float64)
    return WindowTensor(window.clamp_min(WINDOW_FLOOR).float())


@dataclass(frozen=True)
class ChunkPlan:
    """Where the chunks of a track of `length` samples start, in padded coordinates."""

    length: int
    chunk_size: int
    hop_size: int
    pad_left: int
    num_chunks: int

    @property
    def padded_length(self) -> int:
        return (self.num_chunks - 1) * self.hop_size + self.chunk_size

    @property
    def pad_right(self) -> int:
        return self.padded_length - self.pad_left - self.length

    def starts(self) -> range:
        return range(0, self.num_chunks * self.hop_size, self.hop_size)


def plan_chunks(length: int, chunk_size: int, hop_size: int, edge_padding: int) -> ChunkPlan:
    """Pad `edge_padding` before the track and at least as much after it, so that the chunks
    (every `hop_size` samples) cover `[-edge_padding, length + edge_padding)`."""
    if hop_size > chunk_size:
        raise ValueError(f"hop size {hop_size} exceeds chunk size {chunk_size}")
    needed = length + 2 * edge_padding
    num_chunks = max(1, math.ceil(max(0, needed - chunk_size) / hop_size) + 1)
    return ChunkPlan(length, chunk_size, hop_size, edge_padding, num_chunks)


def source_indices(
    positions: np.ndarray, length: int, mode: PaddingMode
) -> tuple[np.ndarray, np.ndarray | None]:
    """Map track positions (possibly outside `[0, length)`) to source indices.

    Returns the indices and, for `constant`, a mask of positions that hold real samples.
    `reflect` mirrors without repeating the edge sample, repeatedly for pads longer than the track.
    """
    if mode == "replicate":
        return np.clip(positions, 0, length - 1), None
    if mode == "constant":
        inside = (positions >= 0) & (positions < length)
        return np.clip(positions, 0, length - 1), inside
    if length == 1:
        return np.zeros_like(positions), None
    period = 2 * (length - 1)
    folded = np.mod(positions, period)
    return np.where(folded >= length, period - folded, folded), None


def read_padded(source: AudioSource, start: int, stop: int, mode: PaddingMode) -> Tensor:
    """Track samples `[start, stop)` where positions outside the track are padding."""
    length = source.length
    if start >= 0 and stop <= length:
        return source.read(start, stop)
    positions = np.arange(start, stop)
    indices, inside = source_indices(positions, length, mode)
    lo, hi = int(indices.min()), int(indices.max()) + 1
    block = source.read(lo, hi)[:, torch.from_numpy(indices - lo)]
    if inside is not None:
        block = block * torch.from_numpy(inside).to(block.dtype)
    return block


@dataclass(frozen=True)
class Normalization:
    """On-the-fly statistics of the mono mixture; `x ↦ (x - mean) / std`."""

    mean: float = 0.0
    std: float = 1.0


def compute_normalization(source: AudioSource, block: int = 1 << 20) -> Normalization:
    """Mean and (unbiased) std of the mono mix, streamed in float64."""
    total = 0.0
    total_sq = 0.0
    count = 0
    for start in range(0, source.length, block):
        mono = source.read(start, min(start + block, source.length)).double().mean(dim=0)
        total += float(mono.sum())
        total_sq += float((mono * mono).sum())
        count += mono.numel()
    mean = total / max(count, 1)
    var = (total_sq - count * mean * mean) / max(count - 1, 1)
    std = math.sqrt(max(var, 0.0))
    return Normalization(mean, std if std > 1e-8 else 1.0)


def derive_stems(
    model_out: dict[str, Tensor], mixture: Tensor, rules: dict[str, DerivedStem]
) -> dict[str, Tensor]:
    """Add derived stems (`sum(plus) - sum(minus)`), in rule order; `mixture` is the input."""
    stems = dict(model_out)
    known = {**stems, "mixture": mixture}
    for name, rule in rules.items():
        value = sum((known[p] for p in rule.plus[1:]), known[rule.plus[0]].clone())
        for part in rule.minus:
            value = value - known[part]
        stems[name] = value
        known[name] = value
    return stems


def _autocast(device: torch.device, precision: str) -> torch.autocast | None:
    if precision == "float32":
        return None
    dtype = torch.bfloat16 if precision == "bfloat16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def stitch_stream(
    model: nn.Module,
    source: AudioSource,
    config: InferenceConfig,
    *,
    chunk_size: int,
    num_stems: int,
    device: torch.device,
    normalization: Normalization | None = None,
    on_progress: ProgressCallback | None = None,
) -> Iterator[tuple[int, Tensor]]:
    """Run `model` over the padded, chunked source and yield finished output blocks.

    Yields `(offset, block)` with `block` of shape `(stems, channels, n)` covering track samples
    `[offset, offset + n)`, in order, denormalized. Blocks tile the whole track exactly once.
    """
    norm = normalization or Normalization()
    hop = config.hop_size(chunk_size)
    edge = chunk_size - hop if config.edge_padding is None else config.edge_padding
    plan = plan_chunks(source.length, chunk_size, hop, edge)
    window = make_window(config.window_shape, chunk_size, config.fade_size).to(device)
    batch_size = config.batch_size
    channels = source.channels
    capacity = (batch_size - 1) * hop + chunk_size
    acc = torch.zeros(num_stems, channels, capacity, device=device)
    weight = torch.zeros(capacity, device=device)
    chunk_batch = torch.empty(batch_size, channels, chunk_size)
    if device.type == "cuda":
        chunk_batch = chunk_batch.pin_memory()
    starts = list(plan.starts())
    base = 0  # padded coordinate of acc[..., 0]
    track_lo, track_hi = plan.pad_left, plan.pad_left + plan.length
    autocast = _autocast(device, config.precision)
    for first in range(0, len(starts), batch_size):
        batch_starts = starts[first : first + batch_size]
        n = len(batch_starts)
        for j, start in enumerate(batch_starts):
            lo = start - plan.pad_left
            chunk_batch[j] = read_padded(source, lo, lo + chunk_size, config.padding_mode)
        chunks = chunk_batch[:n].to(device)
        if normalization is not None:
            chunks = (chunks - norm.mean) / norm.std
        if autocast is not None:
            with autocast:
                out = model(chunks)
        else:
            out = model(chunks)
        out = out.float()
        if out.shape != (n, num_stems, channels, chunk_size):
            raise ValueError(
                f"model returned {tuple(out.shape)}, expected "
                f"{(n, num_stems, channels, chunk_size)}"
            )
        for j, start in enumerate(batch_starts):
            offset = start - base
            acc[..., offset : offset + chunk_size].addcmul_(out[j], window)
            weight[offset : offset + chunk_size].add_(window)
        last = first + n >= len(starts)
        next_start = plan.padded_length if last else batch_starts[-1] + hop
        finished = next_start - base
        lo, hi = max(base, track_lo), min(next_start, track_hi)
        if hi > lo:
            block = acc[..., lo - base : hi - base] / weight[lo - base : hi - base]
            if normalization is not None:
                block = block * norm.std + norm.mean
            yield lo - track_lo, block
        remain = batch_starts[-1] + chunk_size - next_start
        if remain > 0:
            acc[..., :remain] = acc[..., finished : finished + remain].clone()
            weight[:remain] = weight[finished : finished + remain].clone()
        acc[..., max(remain, 0) :].zero_()
        weight[max(remain, 0) :].zero_()
        base = next_start
        if on_progress is not None:
            on_progress(first + n, len(starts))
