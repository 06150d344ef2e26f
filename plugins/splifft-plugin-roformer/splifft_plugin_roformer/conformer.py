"""BS-Conformer and Mel-Band Conformer networks: `(b, c, t)` → `(b, stems, c, t)`.

The roformers' body (STFT, band split, mask estimators, ISTFT: `network.Roformer`) with each
axial transformer replaced by a stack of conformer blocks, as in MSST's `bs_conformer` and
`mel_band_conformer` (`models/bs_roformer/`). A block is
`x ← x + ½·ff₁(x); x ← x + attention(x); x ← x + conv(x); x ← x + ½·ff₂(x); x ← norm(x)`, with
the roformers' gated rotary attention and a depthwise convolution along the attended axis.
Module names mirror MSST's, so its checkpoints load with `strict=True`. At inference the batch
norm is folded into the depthwise convolution and the pointwise convolutions run as linear
layers on the `(b, frames, bands, dim)` grid.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from splifft_core.kernels import linear
from splifft_plugin_roformer.network import (
    Attention,
    FeedForward,
    RMSNorm,
    Roformer,
    RotaryEmbedding,
    Transformer,
    mel_bands,
    normalized_linear,
)
from splifft_plugin_roformer.params import BSConformerParams, MelConformerParams, _ConformerParams


class MacaronFF(nn.Module):
    """Half-step feed-forward: `x + ½·feedforward(x)`."""

    def __init__(self, dim: int, mult: int, dropout: float) -> None:
        super().__init__()
        self.ff = FeedForward(dim, mult, dropout)
        self.scale = 0.5

    def forward(self, x: Tensor) -> Tensor:
        norm, project_in, _, _, project_out, _ = self.ff.net
        assert isinstance(norm, RMSNorm) and isinstance(project_in, nn.Linear)
        assert isinstance(project_out, nn.Linear)
        hidden = normalized_linear(F.normalize(x, dim=-1), norm, project_in, "gelu")
        # the half step scales the output layer instead of its output
        return linear(
            hidden, project_out.weight * self.scale, project_out.bias * self.scale, residual=x
        )


class ConvModule(nn.Module):
    """RMSNorm, pointwise conv + GLU, depthwise conv, batch norm, SiLU, pointwise conv.

    Indices 1 and 8 of `net` held weightless rearranges in the reference.
    """

    def __init__(self, dim: int, expansion_factor: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        inner = dim * expansion_factor
        self.inner = inner
        self.padding = (kernel_size - 1) // 2
        self.net = nn.Sequential(
            RMSNorm(dim),
            nn.Identity(),
            nn.Conv1d(dim, inner * 2, 1),
            nn.GLU(dim=1),
            nn.Conv1d(inner, inner, kernel_size, padding=self.padding, groups=inner),
            nn.BatchNorm1d(inner),
            nn.SiLU(),
            nn.Conv1d(inner, dim, 1),
            nn.Identity(),
            nn.Dropout(dropout),
        )

    def _depthwise(self, x: Tensor) -> Tensor:
        """Depthwise conv then batch norm on `(n, inner, seq)`; folded at inference."""
        depthwise, batch_norm = self.net[4], self.net[5]
        assert isinstance(depthwise, nn.Conv1d) and isinstance(batch_norm, nn.BatchNorm1d)
        if self.training or batch_norm.running_var is None or batch_norm.running_mean is None:
            out: Tensor = batch_norm(depthwise(x))
            return out
        scale = batch_norm.weight * torch.rsqrt(batch_norm.running_var + batch_norm.eps)
        weight = depthwise.weight * scale[:, None, None]
        assert depthwise.bias is not None
        bias = (depthwise.bias - batch_norm.running_mean) * scale + batch_norm.bias
        return F.conv1d(x, weight, bias, padding=self.padding, groups=self.inner)

    def forward(self, x: Tensor, axis: int) -> Tensor:
        """`x + conv(x)` along `axis` (1 or 2) of `(b, n1, n2, dim)` (dropout is off)."""
        norm, pointwise_in, pointwise_out = self.net[0], self.net[2], self.net[7]
        assert isinstance(norm, RMSNorm)
        assert isinstance(pointwise_in, nn.Conv1d) and isinstance(pointwise_out, nn.Conv1d)
        value_gate = linear(
            F.normalize(x, dim=-1),
            pointwise_in.weight.squeeze(-1) * norm.factor,
            pointwise_in.bias,
        )
        hidden = value_gate[..., : self.inner] * value_gate[..., self.inner :].sigmoid()
        other = 3 - axis
        batch, n_other, length = x.shape[0], x.shape[other], x.shape[axis]
        # (b, n1, n2, inner) → (b·other, inner, seq): one sequence per row along `axis`
        seq = hidden.permute(0, other, 3, axis).reshape(batch * n_other, self.inner, length)
        seq = F.silu(self._depthwise(seq))
        grid = seq.view(batch, n_other, self.inner, length)
        grid = grid.permute(0, 3, 1, 2) if axis == 1 else grid.permute(0, 1, 3, 2)
        return linear(grid, pointwise_out.weight.squeeze(-1), pointwise_out.bias, residual=x)


class ConformerBlock(nn.Module):
    def __init__(self, params: _ConformerParams, rotary_embed: RotaryEmbedding) -> None:
        super().__init__()
        dim = params.dim
        self.ff1 = MacaronFF(dim, params.ff_mult, params.ff_dropout)
        self.attn = Attention(dim, params.heads, params.dim_head, params.attn_dropout, rotary_embed)
        self.conv = ConvModule(
            dim, params.conv_expansion_factor, params.conv_kernel_size, params.ff_dropout
        )
        self.ff2 = MacaronFF(dim, params.ff_mult, params.ff_dropout)
        self.out_norm = RMSNorm(dim)

    def forward(self, x: Tensor, axis: int) -> Tensor:
        x = self.ff1(x)
        x = self.attn(x, axis)
        x = self.conv(x, axis)
        x = self.ff2(x)
        out: Tensor = self.out_norm(x)
        return out


class Conformer(nn.Module):
    """Conformer blocks along one axis of the grid (MSST's `norm_output` is off: no norm)."""

    def __init__(self, params: _ConformerParams, depth: int, rotary_embed: RotaryEmbedding):
        super().__init__()
        self.layers = nn.ModuleList(ConformerBlock(params, rotary_embed) for _ in range(depth))
        self.norm = nn.Identity()

    def forward(self, x: Tensor, axis: int = 1) -> Tensor:
        for block in self.layers:
            x = cast(ConformerBlock, block)(x, axis)
        return x


def conformer_layers(params: _ConformerParams) -> nn.ModuleList:
    """Per depth: [linear transformer], time conformer, frequency conformer."""
    time_rotary = RotaryEmbedding(params.dim_head)
    freq_rotary = RotaryEmbedding(params.dim_head)
    layers = nn.ModuleList()
    for _ in range(params.depth):
        block: list[nn.Module] = []
        if params.linear_conformer_depth > 0:
            block.append(
                Transformer(
                    dim=params.dim,
                    depth=params.linear_conformer_depth,
                    heads=params.heads,
                    dim_head=params.dim_head,
                    attn_dropout=params.attn_dropout,
                    ff_dropout=params.ff_dropout,
                    norm_output=False,
                )
            )
        block.append(Conformer(params, params.time_conformer_depth, time_rotary))
        block.append(Conformer(params, params.freq_conformer_depth, freq_rotary))
        layers.append(nn.ModuleList(block))
    return layers


def conformer_mel_bands(sample_rate: int, n_fft: int, num_bands: int) -> np.ndarray:
    """The mel band support of MSST's `mel_band_conformer`.

    Like `mel_bands`, but the corner bins are set to a quarter of their neighbour, so the first
    bin joins the first band (the last bin the last band) only if its neighbour is in it.
    """
    support = mel_bands(sample_rate, n_fft, num_bands)
    support[0, 0] = support[0, 1]
    support[-1, -1] = support[-1, -2]
    return support


def build_bs_conformer(params: BSConformerParams) -> Roformer:
    sizes = params.freqs_per_bands
    indices = torch.arange(sum(sizes))
    return Roformer(
        params,
        sizes,
        indices,
        layers=conformer_layers(params),
        final_norm=True,
        mask_layers=params.mask_estimator_depth,
    )


def build_mel_conformer(params: MelConformerParams) -> Roformer:
    support = conformer_mel_bands(params.sample_rate, params.stft_n_fft, params.num_bands)
    sizes = [int(n) for n in support.sum(axis=1)]
    indices = torch.from_numpy(np.nonzero(support)[1]).long()
    return Roformer(
        params,
        sizes,
        indices,
        layers=conformer_layers(params),
        final_norm=False,
        mask_layers=params.mask_estimator_depth,
    )
