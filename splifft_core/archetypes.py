"""The core's ready-made pre/postprocessing, and the chunk model that wraps a network with them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn

from splifft_core import stft as core_stft
from splifft_core.models import Archetype, StftParams
from splifft_core.types import (
    ComplexSpectrogram,
    PostprocessFn,
    PreprocessFn,
    SeparatedChunkedTensor,
)


def stft(audio: Tensor, params: StftParams) -> ComplexSpectrogram:
    """`(..., samples)` → `(..., freq_bins, frames, 2)` (real view of the complex STFT)."""
    return ComplexSpectrogram(torch.view_as_real(core_stft.stft(audio.float(), params)))


def istft(spec: Tensor, params: StftParams, length: int) -> Tensor:
    """Inverse of [stft][splifft_core.archetypes.stft]: `(..., f, frames, 2)` → `(..., length)`."""
    return core_stft.istft(torch.view_as_complex(spec.float().contiguous()), params, length)


def _as_stems(out: Tensor, chunk: Tensor) -> SeparatedChunkedTensor:
    """Accept `(b, s, c, t)` or `(b, s*c, t)` network outputs."""
    batch, channels, _ = chunk.shape
    if out.dim() == 3:
        out = out.reshape(batch, -1, channels, out.shape[-1])
    if out.dim() != 4 or out.shape[2] != channels:
        raise ValueError(
            f"network output has shape {tuple(out.shape)}, expected (batch, stems, {channels}, "
            "samples)"
        )
    return SeparatedChunkedTensor(out)


def _stft_params(params: Any) -> StftParams:
    stft_params = getattr(params, "stft", None)
    if not isinstance(stft_params, StftParams):
        raise TypeError(
            "the stft_mask archetype needs params.stft (a splifft_core.models.StftParams)"
        )
    return stft_params


def make_archetype(archetype: Archetype, params: Any) -> tuple[PreprocessFn, PostprocessFn]:
    """The (preprocess, postprocess) pair of an archetype for these params."""
    if archetype == "waveform":

        def pre_wave(chunk: Tensor) -> tuple[Tensor, ...]:
            return (chunk,)

        def post_wave(
            out: Any, chunk: Tensor, inputs: tuple[Tensor, ...]
        ) -> SeparatedChunkedTensor:
            return _as_stems(cast(Tensor, out), chunk)

        return cast(PreprocessFn, pre_wave), post_wave

    if archetype == "stft_mask":
        stft_params = _stft_params(params)

        def pre_spec(chunk: Tensor) -> tuple[Tensor, ...]:
            return (stft(chunk, stft_params),)

        def post_mask(
            out: Any, chunk: Tensor, inputs: tuple[Tensor, ...]
        ) -> SeparatedChunkedTensor:
            mix = torch.view_as_complex(inputs[0].float().contiguous()).unsqueeze(1)
            mask = torch.view_as_complex(cast(Tensor, out).float().contiguous())
            separated = torch.view_as_real(mix * mask)
            return SeparatedChunkedTensor(istft(separated, stft_params, chunk.shape[-1]))

        return cast(PreprocessFn, pre_spec), post_mask
    raise ValueError(f"unknown archetype {archetype!r}")


class SeparationModel(nn.Module):
    """The model contract: `(batch, channels, chunk_size)` → `(batch, stems, channels, chunk_size)`.

    Pre- and postprocessing are included; normalization and stitching are not.
    """

    def __init__(
        self,
        network: nn.Module,
        preprocess: PreprocessFn,
        postprocess: PostprocessFn,
        stems: Sequence[str],
        stem_indices: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.network = network
        self.preprocess = preprocess
        self.postprocess = postprocess
        self.stems = tuple(stems)
        """The stems this module outputs, in order."""
        self._stem_indices = None if stem_indices is None else list(stem_indices)

    def forward(self, chunk: Tensor) -> Tensor:
        if chunk.dim() != 3:
            raise ValueError(f"expected (batch, channels, samples), got {tuple(chunk.shape)}")
        inputs = self.preprocess(chunk)  # type: ignore[arg-type]
        out = self.postprocess(self.network(*inputs), chunk, inputs)
        if self._stem_indices is not None:
            out = SeparatedChunkedTensor(out[:, self._stem_indices])
        return out


class TtaChunkModel(nn.Module):
    """MSST's test-time augmentation of a chunk model: `(m(x) + swap(m(swap(x))) − m(−x)) / 3`.

    Per chunk, which equals MSST's per track: the chunks, their padding and their windows are the
    same for the three inputs (reflect and zero padding commute with a channel swap and with
    negation) and the overlap-add is linear. A mono model's "swap" is the identity, as
    `mix[::-1]` of one channel is in MSST.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, chunk: Tensor) -> Tensor:
        swapped: Tensor = self.model(chunk.flip(1)).flip(2)  # (batch, stems, channels, samples)
        total: Tensor = self.model(chunk) + swapped - self.model(-chunk)
        return total / 3.0
