"""Demucs' own chunking (`demucs.apply.apply_model`), stated precisely and reimplemented.

The core engine follows it with `chunk_layout="demucs"`, `window_shape="triangular"`,
`normalize=False` (and `shift_offsets` / `shifts` + `shift_seed`); the functions here are a
small, non-streaming reference of the same procedure, used by this plugin's tests.

Split (`split=True`, `overlap`, `transition_power`):

- `segment = int(segment_seconds * samplerate)` (the model's chunk size),
  `stride = int((1 - overlap) * segment)`; chunks start at `0, stride, 2 * stride, …` for
  every start `< length`. No padding before the track: the first chunk starts at sample 0.
- A chunk shorter than `segment` (the track's tail, or a track shorter than one segment) of
  length `L` is fed as a full segment *centred* on it: input samples
  `start - (segment - L) // 2 … + segment`, zeros where that leaves the track (for the tail
  this reads real samples before `start`); the output is cropped back to the centre `L` samples.
- Each chunk's output is weighted by the triangle
  `w = cat(1, 2, …, segment // 2, segment - segment // 2, …, 2, 1) / max`, raised to
  `transition_power`; a short chunk uses the first `L` weights (not the centre ones).
  The weighted outputs are summed and divided by the summed weights (never zero: `w > 0`).
- No normalization of the mixture (HTDemucs normalizes each chunk inside the network).

Shifts (`shifts=N`): `max_shift = int(0.5 * samplerate)`; the track is zero-padded by
`max_shift` on both sides; for each of the N offsets `o` in `[0, max_shift]` (demucs draws
them with `random.randint`), the split above runs on `padded[o : max_shift + length]` and its
output from `max_shift - o` on (exactly `length` samples) is kept; the N results are averaged.

Bags: each model runs the whole procedure on its own (in demucs each draws its own offsets),
then stem `s` is `sum_m w[m][s] * out_m[s] / sum_m w[m][s]`. Without shifts this equals
splitting once with the bag as one network (`network.BagOfModels`), as every step is linear.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

ChunkModel = Callable[[Tensor], Tensor]
"""`(batch, channels, segment)` -> `(batch, stems, channels, segment)`."""


def transition_window(segment: int, power: float = 1.0) -> Tensor:
    """Demucs' triangle weight over one segment, peak 1, ends `1 / max`."""
    half = segment // 2
    rising = torch.arange(1, half + 1)
    falling = torch.arange(segment - half, 0, -1)
    weight = torch.cat([rising, falling]).to(torch.float32)
    return (weight / weight.max()) ** power


def _centred_chunk(mix: Tensor, start: int, length: int, segment: int) -> Tensor:
    """`segment` samples centred on `mix[..., start : start + length]`, zeros outside `mix`."""
    first = start - (segment - length) // 2
    last = first + segment
    lo, hi = max(0, first), min(mix.shape[-1], last)
    return F.pad(mix[..., lo:hi], (lo - first, last - hi))


def apply_split(
    model: ChunkModel,
    mix: Tensor,
    segment: int,
    overlap: float = 0.25,
    transition_power: float = 1.0,
) -> Tensor:
    """`(batch, channels, length)` -> `(batch, stems, channels, length)`, as demucs splits."""
    length = mix.shape[-1]
    stride = int((1 - overlap) * segment)
    weight = transition_window(segment, transition_power).to(mix)
    out: Tensor | None = None
    total = torch.zeros(length, dtype=mix.dtype, device=mix.device)
    for start in range(0, length, stride):
        chunk_length = min(segment, length - start)
        delta = segment - chunk_length
        chunk_out = model(_centred_chunk(mix, start, chunk_length, segment))
        chunk_out = chunk_out[..., delta // 2 : delta // 2 + chunk_length]
        if out is None:
            out = mix.new_zeros((*chunk_out.shape[:-1], length))
        out[..., start : start + chunk_length] += weight[:chunk_length] * chunk_out
        total[start : start + chunk_length] += weight[:chunk_length]
    assert out is not None
    return out / total


def apply_shifted(
    model: ChunkModel,
    mix: Tensor,
    segment: int,
    offsets: Sequence[int],
    max_shift: int,
    overlap: float = 0.25,
    transition_power: float = 1.0,
) -> Tensor:
    """Demucs' shift trick with given offsets (each in `[0, max_shift]`)."""
    length = mix.shape[-1]
    padded = F.pad(mix, (max_shift, max_shift))
    out: Tensor | None = None
    for offset in offsets:
        if not 0 <= offset <= max_shift:
            raise ValueError(f"shift offset {offset} is outside [0, {max_shift}]")
        shifted = padded[..., offset : max_shift + length]
        part = apply_split(model, shifted, segment, overlap, transition_power)
        part = part[..., max_shift - offset :]
        out = part if out is None else out + part
    assert out is not None
    return out / len(offsets)
