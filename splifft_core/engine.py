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

from splifft_core.analysis import FrameModelParamsLike
from splifft_core.config import InferenceConfig
from splifft_core.manifest import DerivedStem
from splifft_core.types import ChunkLayout, PaddingMode, WindowShape, WindowTensor

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


def make_window(
    shape: WindowShape, size: int, fade_size: int | None = None, power: float = 1.0
) -> WindowTensor:
    """A chunk window of `size` samples, raised to `power`, floored at `WINDOW_FLOOR`.

    `triangular` is demucs' transition weight `[1 … size/2, size - size/2 … 1] / max`;
    `linear_fade` is flat with `fade_size` linear ramps from 0 (default: a tenth of the chunk).
    """
    if shape == "hann":
        window = torch.hann_window(size, periodic=False, dtype=torch.float64)
    elif shape == "hamming":
        window = torch.hamming_window(size, periodic=False, dtype=torch.float64)
    elif shape == "triangular":
        half = size // 2
        window = torch.cat([torch.arange(1, half + 1), torch.arange(size - half, 0, -1)]).to(
            torch.float64
        )
        window = window / window.max()
    elif shape == "rectangular":
        window = torch.ones(size, dtype=torch.float64)
    elif shape == "linear_fade":
        fade = linear_fade_size(size, fade_size)
        window = torch.ones(size, dtype=torch.float64)
        if fade > 0:
            ramp = torch.linspace(0.0, 1.0, fade, dtype=torch.float64)
            window[:fade] = ramp
            window[-fade:] = ramp.flip(0)
    else:
        raise ValueError(f"unknown window shape {shape!r}")
    if size == 1:
        window = torch.ones(1, dtype=torch.float64)
    if power != 1.0:
        window = window**power
    return WindowTensor(window.clamp_min(WINDOW_FLOOR).float())


def linear_fade_size(size: int, fade_size: int | None) -> int:
    return size // 10 if fade_size is None else min(fade_size, size // 2)


def edge_lengths(shape: WindowShape, size: int, fade_size: int | None) -> int:
    """How many samples at each end of the window are a fade (for `msst` flat track edges)."""
    if shape == "linear_fade":
        return linear_fade_size(size, fade_size)
    return size // 2


@dataclass(frozen=True)
class ChunkJob:
    """One model call: what it reads, and which output samples land where.

    Positions are in padded coordinates (track sample `i` is at `i + pad_left`).
    """

    read_start: int
    """First input position; positions outside the track are filled with the plan's padding."""
    read_length: int
    """Input samples taken from the (padded) signal; the rest of the chunk is `tail_fill`."""
    tail_fill: PaddingMode
    """`reflect` mirrors the chunk's own samples, `constant` appends zeros."""
    out_offset: int
    """First model output sample that is kept."""
    out_length: int
    write_start: int
    """Where output sample `out_offset` lands."""
    flat_start: bool = False
    """No fade-in: the window's first half counts fully (first chunk, `msst`)."""
    flat_end: bool = False
    own_window: bool = False
    """Weighted by a window of `out_length` samples, not the full window's start (`uvr`)."""


@dataclass(frozen=True)
class ChunkPlan:
    """How a track of `length` samples is cut into chunks of `chunk_size`."""

    length: int
    chunk_size: int
    hop_size: int
    pad_left: int
    padded_length: int
    padding_mode: PaddingMode
    jobs: tuple[ChunkJob, ...]

    @property
    def num_chunks(self) -> int:
        return len(self.jobs)

    @property
    def pad_right(self) -> int:
        return self.padded_length - self.pad_left - self.length

    def starts(self) -> list[int]:
        return [job.write_start for job in self.jobs]


def plan_chunks(
    length: int,
    chunk_size: int,
    hop_size: int,
    edge_padding: int,
    layout: ChunkLayout = "splifft",
    padding_mode: PaddingMode = "reflect",
) -> ChunkPlan:
    """Place the chunks of a track (see [ChunkLayout][splifft_core.types.ChunkLayout])."""
    if hop_size > chunk_size:
        raise ValueError(f"hop size {hop_size} exceeds chunk size {chunk_size}")
    size, hop = chunk_size, hop_size
    if layout == "splifft":
        # Pad `edge_padding` before and at least as much after, full chunks every hop.
        needed = length + 2 * edge_padding
        count = max(1, math.ceil(max(0, needed - size) / hop) + 1)
        jobs = tuple(ChunkJob(k * hop, size, "constant", 0, size, k * hop) for k in range(count))
        return ChunkPlan(
            length, size, hop, edge_padding, (count - 1) * hop + size, padding_mode, jobs
        )
    if layout == "msst":
        border = size - hop
        pad = border if length > 2 * border and border > 0 else 0
        padded = length + 2 * pad
        starts = range(0, padded, hop)
        msst_jobs = []
        for k, start in enumerate(starts):
            valid = min(size, padded - start)
            first, last = k == 0, start + hop >= padded
            msst_jobs.append(
                ChunkJob(
                    start,
                    valid,
                    "reflect" if valid > size // 2 else "constant",
                    0,
                    valid,
                    start,
                    flat_start=first,
                    flat_end=last and not first,
                )
            )
        return ChunkPlan(length, size, hop, pad, padded, "reflect", tuple(msst_jobs))
    if layout == "uvr":
        generated = size - 2 * edge_padding
        if generated <= 0:
            raise ValueError(
                f"uvr layout: chunk {size} must exceed twice the edge padding {edge_padding}"
            )
        padded = edge_padding + length + generated - length % generated + edge_padding
        uvr_jobs = []
        for start in range(0, padded, hop):
            valid = min(size, padded - start)
            uvr_jobs.append(
                ChunkJob(start, valid, "constant", 0, valid, start, own_window=valid < size)
            )
        return ChunkPlan(length, size, hop, edge_padding, padded, "constant", tuple(uvr_jobs))
    if layout == "centered_tail":
        tail_jobs = []
        for start in range(0, length, hop):
            valid = min(size, length - start)
            lead = (size - valid) // 2
            tail_jobs.append(ChunkJob(start - lead, size, "constant", lead, valid, start))
        return ChunkPlan(length, size, hop, 0, length, "constant", tuple(tail_jobs))
    raise ValueError(f"unknown chunk layout {layout!r}")


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


def read_chunk(source: AudioSource, plan: ChunkPlan, job: ChunkJob) -> Tensor:
    """The model input of one job, `(channels, chunk_size)`."""
    lo = job.read_start - plan.pad_left
    chunk = read_padded(source, lo, lo + job.read_length, plan.padding_mode)
    missing = plan.chunk_size - job.read_length
    if missing > 0:
        if job.tail_fill == "reflect" and job.read_length > missing:
            chunk = torch.nn.functional.pad(chunk[None], (0, missing), mode="reflect")[0]
        else:
            chunk = torch.nn.functional.pad(chunk, (0, missing))
    return chunk


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


def precision_autocast(device: torch.device, precision: str) -> torch.autocast | None:
    """The `torch.autocast` a model call runs under for `precision` (None for float32)."""
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
    Each output sample is `Σ wᵢ·yᵢ / Σ wᵢ` over the chunks covering it (normalized overlap-add).
    """
    hop = config.hop_size(chunk_size)
    edge = chunk_size - hop if config.edge_padding is None else config.edge_padding
    plan = plan_chunks(
        source.length, chunk_size, hop, edge, config.chunk_layout, config.padding_mode
    )
    window = make_window(config.window_shape, chunk_size, config.fade_size, config.window_power).to(
        device
    )
    half = edge_lengths(config.window_shape, chunk_size, config.fade_size)
    batch_size = config.batch_size
    channels = source.channels
    capacity = (batch_size - 1) * hop + chunk_size
    acc = torch.zeros(num_stems, channels, capacity, device=device)
    weight = torch.zeros(capacity, device=device)
    chunk_batch = torch.empty(batch_size, channels, chunk_size)
    if device.type == "cuda":
        chunk_batch = chunk_batch.pin_memory()
    jobs = plan.jobs
    base = 0  # padded coordinate of acc[..., 0]
    track_lo, track_hi = plan.pad_left, plan.pad_left + plan.length
    autocast = precision_autocast(device, config.precision)
    for first in range(0, len(jobs), batch_size):
        batch_jobs = jobs[first : first + batch_size]
        n = len(batch_jobs)
        for j, job in enumerate(batch_jobs):
            chunk_batch[j] = read_chunk(source, plan, job)
        chunks = chunk_batch[:n].to(device)
        if normalization is not None:
            chunks = (chunks - normalization.mean) / normalization.std
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
        for j, job in enumerate(batch_jobs):
            offset, size = job.write_start - base, job.out_length
            w = window[:size]
            if job.own_window:
                w = make_window(
                    config.window_shape, size, config.fade_size, config.window_power
                ).to(device)
            if job.flat_start or job.flat_end:
                w = w.clone()
                if job.flat_start:
                    w[:half] = 1.0
                if job.flat_end:
                    w[max(0, chunk_size - half) :] = 1.0
            kept = out[j, ..., job.out_offset : job.out_offset + size]
            acc[..., offset : offset + size].addcmul_(kept, w)
            weight[offset : offset + size].add_(w)
        last = first + n >= len(jobs)
        next_start = plan.padded_length if last else jobs[first + n].write_start
        finished = next_start - base
        lo, hi = max(base, track_lo), min(next_start, track_hi)
        if hi > lo:
            block = acc[..., lo - base : hi - base] / weight[lo - base : hi - base]
            if normalization is not None:
                block = block * normalization.std + normalization.mean
            yield lo - track_lo, block
        remain = max(0, max(j.write_start + j.out_length for j in batch_jobs) - next_start)
        if remain > 0:
            acc[..., :remain] = acc[..., finished : finished + remain].clone()
            weight[:remain] = weight[finished : finished + remain].clone()
        acc[..., remain:].zero_()
        weight[remain:].zero_()
        base = next_start
        if on_progress is not None:
            on_progress(first + n, len(jobs))


@dataclass(frozen=True)
class ShiftedSource:
    """`lead` zeros, then the source (demucs' shift trick: the chunk grid lands elsewhere)."""

    source: AudioSource
    lead: int

    @property
    def channels(self) -> int:
        return self.source.channels

    @property
    def length(self) -> int:
        return self.source.length + self.lead

    def read(self, start: int, stop: int) -> Tensor:
        zeros = max(0, min(stop, self.lead) - start)
        parts = []
        if zeros:
            parts.append(torch.zeros(self.channels, zeros))
        lo, hi = max(start, self.lead) - self.lead, stop - self.lead
        if hi > lo:
            parts.append(self.source.read(lo, hi))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


def shift_offsets(config: InferenceConfig, sample_rate: int) -> list[int]:
    """The shift offsets of a run (empty: no shifts), as demucs draws them."""
    max_shift = int(config.max_shift * sample_rate)
    if config.shift_offsets is not None:
        bad = [o for o in config.shift_offsets if not 0 <= o <= max_shift]
        if bad:
            raise ValueError(f"shift offsets {bad} outside [0, {max_shift}]")
        return list(config.shift_offsets)
    if config.shifts <= 0:
        return []
    import random

    rng = random.Random(config.shift_seed)
    return [rng.randint(0, max_shift) for _ in range(config.shifts)]


def average_streams(
    streams: list[Iterator[tuple[int, Tensor]]], skips: list[int], length: int
) -> Iterator[tuple[int, Tensor]]:
    """Average several block streams of one track, dropping the first `skips[i]` samples of
    stream `i`. Streams advance in lockstep, so the lag buffered is bounded by a few chunks."""
    count = len(streams)
    pending: list[list[Tensor]] = [[] for _ in streams]
    ends = [0] * count  # track position each stream has delivered up to
    position = 0
    while position < length:
        for i, stream in enumerate(streams):
            while ends[i] <= position:
                offset, block = next(stream)
                lo = max(offset, skips[i])
                hi = offset + block.shape[-1]
                if hi > lo:
                    pending[i].append(block[..., lo - offset :])
                    ends[i] = hi - skips[i]
        stop = min(min(ends), length)
        total = None
        for i in range(count):
            merged = torch.cat(pending[i], dim=-1) if len(pending[i]) > 1 else pending[i][0]
            take = stop - position
            part, rest = merged[..., :take], merged[..., take:]
            total = part.clone() if total is None else total.add_(part)
            pending[i] = [rest] if rest.shape[-1] else []
        assert total is not None
        yield position, total / count
        position = stop


@dataclass(frozen=True)
class FramePlan:
    """How an analysis model's chunks tile a track (`splifft_core.analysis`)."""

    chunk_size: int
    chunk_hop: int
    lead_padding: int
    border: int
    frames: int
    """Frames of the whole track."""
    starts: tuple[int, ...]
    """Each chunk's first sample (negative: before the track)."""
    first_frames: tuple[int, ...]
    """The track frame of each chunk's frame 0 (the default rule's; `frame_positions`)."""
    keep_stop: int | None
    """Chunk frames kept: `[border, keep_stop)`; `None`: `[border, F − border)` (a custom
    `chunk_hop`, whose frames need not tile it exactly, e.g. Basic Pitch's windows)."""
    padding: PaddingMode
    """What chunks read outside the track: `constant` (zeros) or `reflect`."""
    lengths: tuple[int, ...] = ()
    """Each chunk's samples: `chunk_size`, but for the last one of a `variable_length`
    network, cut to the frames the track still needs."""

    @property
    def chunks(self) -> int:
        return len(self.starts)


def plan_frames(samples: int, params: FrameModelParamsLike) -> FramePlan:
    """The chunk layout of `params` over `samples` samples.

    Chunk i reads `[i·chunk_hop − lead_padding, … + chunk_size)` (default `chunk_hop = chunk_size −
    2·border·frame_hop`, `lead_padding = border·frame_hop`) and keeps `chunk_hop // frame_hop`
    frames from its frame `border` on, which tile the track's `frame_count(samples)` frames
    (default `samples // frame_hop + 1`). A `chunk_hop` that is not a whole number of frames
    (Basic Pitch's windows) appends each chunk's frames `[border, F − border)` as they come.
    Optional params:
    `edge_padding` (`"zeros"` or `"reflect"`: what chunks read beyond the track's ends); and
    `last_chunk = "end_aligned"`, which moves the last chunk back to end `border` frames past the
    track's last frame, its frames already given by the chunk before kept from that one; and
    `variable_length = True` for a network that takes chunks of any length (convolutional, no
    attention over the chunk): the last chunk is cut to the frames the track still needs.
    """
    chunk_size, frame_hop = int(params.chunk_size), int(params.frame_hop)
    border = int(params.chunk_border)
    chunk_hop = getattr(params, "chunk_hop", None)
    chunk_hop = int(chunk_hop) if chunk_hop else chunk_size - 2 * border * frame_hop
    lead = getattr(params, "lead_padding", None)
    lead = int(lead) if lead is not None else border * frame_hop
    count = getattr(params, "frame_count", None)
    frames = int(count(samples)) if callable(count) else samples // frame_hop + 1
    if chunk_hop <= 0:
        raise ValueError(
            f"chunk_size {chunk_size} leaves no frames after a border of {border} frames "
            f"of {frame_hop} samples on each side"
        )
    # Windows that do not fall on whole frames (Basic Pitch's) are joined as they come.
    custom = chunk_hop % frame_hop != 0
    if custom and not getattr(params, "chunk_hop", None):
        raise ValueError(f"chunk_size {chunk_size} is not a multiple of frame_hop {frame_hop}")
    kept = max(1, chunk_hop // frame_hop)
    if custom:  # windows until the kept frames reach `frames` and the audio's end
        chunks = max(1, math.ceil(frames / kept), math.ceil((samples + lead) / chunk_hop))
    else:
        chunks = max(1, math.ceil(frames / kept))
    starts = [i * chunk_hop - lead for i in range(chunks)]
    first_frames = [i * kept - border for i in range(chunks)]
    if getattr(params, "last_chunk", "continue") == "end_aligned" and chunks > 1 and not custom:
        first_frames[-1] = frames - (kept + border)
        starts[-1] = (first_frames[-1] + border) * frame_hop - lead
    edge = getattr(params, "edge_padding", "zeros")
    padding: PaddingMode = "reflect" if edge == "reflect" else "constant"
    stop = None if custom else border + kept
    lengths = [chunk_size] * chunks
    if getattr(params, "variable_length", False) and not custom:
        # the frames the last chunk still has to give, its borders, one frame to spare
        needed = frames - (first_frames[-1] + border)
        lengths[-1] = min(chunk_size, (needed + 2 * border + 1) * frame_hop)
    return FramePlan(
        chunk_size, chunk_hop, lead, border, frames, tuple(starts), tuple(first_frames), stop,
        padding, tuple(lengths),
    )  # fmt: skip


def stitch_frames(
    model: nn.Module,
    source: AudioSource,
    params: FrameModelParamsLike,
    *,
    batch_size: int,
    device: torch.device,
    precision: str = "float32",
    on_progress: ProgressCallback | None = None,
) -> dict[str, np.ndarray]:
    """Run an analysis `model` over the chunked source; the frame activations of the track.

    The network maps `(batch, channels, chunk_size)` to `{name: (batch, F, ...)}`; each chunk's
    frames `[border, F − border)` are kept and joined in track order, a frame given by two
    chunks taken from the first, then cut to the track's frame count (`plan_frames`). A network
    with `frame_positions = True` is also told where its chunks lie:
    `model(chunks, first_frame=(batch,) int64 tensor, track_frames=int)`, e.g. to treat frames
    outside the track as its reference does. Memory: one batch of chunks plus the activations
    (a few values per frame).
    """
    plan = plan_frames(source.length, params)
    channels = source.channels
    positions = bool(getattr(model, "frame_positions", False))
    result: dict[str, np.ndarray] = {}  # allocated once, filled in place: one copy of each
    produced = 0
    chunk_batch = torch.empty(batch_size, channels, plan.chunk_size)
    autocast = precision_autocast(device, precision)
    batches: list[tuple[int, int]] = []  # (first chunk, count): chunks of one length each
    for index, length in enumerate(plan.lengths):
        if batches and batches[-1][1] < batch_size and plan.lengths[batches[-1][0]] == length:
            batches[-1] = (batches[-1][0], batches[-1][1] + 1)
        else:
            batches.append((index, 1))
    for first, n in batches:
        size = plan.lengths[first]
        for j in range(n):
            start = plan.starts[first + j]
            chunk_batch[j, :, :size] = read_padded(source, start, start + size, plan.padding)
        chunks = chunk_batch[:n, :, :size].to(device)
        extra: dict[str, object] = {}
        if positions:
            where = plan.first_frames[first : first + n]
            extra = {"first_frame": torch.tensor(where, device=device), "track_frames": plan.frames}
        with torch.inference_mode():
            if autocast is not None:
                with autocast:
                    out = model(chunks, **extra)
            else:
                out = model(chunks, **extra)
        if not isinstance(out, dict) or not out:
            raise ValueError(
                f"an analysis network returns a dict of activations, got {type(out).__name__}"
            )
        starts_here = produced
        for name, value in out.items():
            value = value.float()
            if value.dim() < 2 or value.shape[0] != n:
                raise ValueError(
                    f"activation {name!r} has shape {tuple(value.shape)}, expected "
                    f"({n}, frames, ...)"
                )
            frames = value.shape[1]
            stop = frames - plan.border if plan.keep_stop is None else plan.keep_stop
            if size < plan.chunk_size:  # a cut last chunk: its frames up to its border
                stop = min(stop, frames - plan.border)
            if stop <= plan.border or stop > frames:
                raise ValueError(
                    f"activation {name!r} has {frames} frames per chunk; "
                    f"{size // max(1, int(params.frame_hop))} expected "
                    f"(a border of {plan.border} frames on each side)"
                )
            kept = value[:, plan.border : stop].cpu().numpy()
            if name not in result:  # zeros: frames a network leaves uncovered stay 0
                result[name] = np.zeros((plan.frames, *kept.shape[2:]), np.float32)
            target = result[name]
            produced = starts_here
            for j in range(n):
                block = kept[j]
                if plan.keep_stop is not None:  # whole frames: place by track index
                    at = plan.first_frames[first + j] + plan.border
                    block = block[max(0, produced - at) :]  # keep the earlier chunk's frames
                block = block[: max(0, plan.frames - produced)]
                target[produced : produced + len(block)] = block
                produced += len(block)
        if on_progress is not None:
            on_progress(first + n, plan.chunks)
        if produced >= plan.frames:
            break
    return result
