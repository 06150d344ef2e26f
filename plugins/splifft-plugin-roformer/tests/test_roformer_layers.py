"""Our fused roformer layers against textbook formulations of the same math.

The network fuses projections, rewrites tanh through a sigmoid and runs per-band MLPs as batched
matmuls; each test here computes the layer the plain way (one band, one head, one position at a
time where it matters) and compares in float32.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from splifft_plugin_roformer.network import Attention, BandSplit, MaskEstimator, RotaryEmbedding
from torch import Tensor, nn


def _randomize(module: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            if parameter.requires_grad:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)


def _rotate(x: Tensor, freqs: Tensor) -> Tensor:
    """Rotary positions on interleaved pairs, with cos/sin and a half-rotation (no complex)."""
    seq, dim = x.shape[-2], x.shape[-1]
    angles = torch.arange(seq, dtype=torch.float64)[:, None] * freqs.double()[None, :]
    cos = angles.cos().repeat_interleave(2, dim=-1)
    sin = angles.sin().repeat_interleave(2, dim=-1)
    pairs = x.reshape(*x.shape[:-1], dim // 2, 2)
    swapped = torch.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).reshape(x.shape)
    return x * cos + swapped * sin


def _attention_reference(layer: Attention, x: Tensor, axis: int) -> Tensor:
    """MSST's attention block, step by step in float64 along `axis` of `(b, n1, n2, dim)`."""
    x = x.double()
    grid = x if axis == 2 else x.transpose(1, 2)  # attend over the last token axis
    normed = F.normalize(grid, dim=-1) * math.sqrt(grid.shape[-1]) * layer.norm.gamma.double()
    q, k, v = F.linear(normed, layer.to_qkv.weight.double()).chunk(3, dim=-1)
    heads = layer.heads

    def split(t: Tensor) -> Tensor:  # (b, n, seq, h·d) → (b, n, h, seq, d)
        return t.reshape(*t.shape[:-1], heads, -1).transpose(-2, -3)

    q, k, v = split(q), split(k), split(v)
    assert layer.rotary_embed is not None
    freqs = layer.rotary_embed.freqs
    q, k = _rotate(q, freqs), _rotate(k, freqs)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    out = scores.softmax(dim=-1) @ v  # (b, n, h, seq, d)
    gates = F.linear(normed, layer.to_gates.weight.double(), layer.to_gates.bias.double())
    out = out * gates.sigmoid().transpose(-1, -2).unsqueeze(-1)
    out = out.transpose(-2, -3).flatten(-2)  # (b, n, seq, h·d)
    to_out = layer.to_out[0]
    assert isinstance(to_out, nn.Linear)
    result = grid + F.linear(out, to_out.weight.double())
    return result if axis == 2 else result.transpose(1, 2)


@pytest.mark.parametrize("heads", [1, 3, 4])
@pytest.mark.parametrize("axis", [1, 2])
def test_attention_matches_textbook_attention(heads: int, axis: int) -> None:
    # large enough (rows × out × in ≥ 2^20) for the oneDNN matmul path on x86
    dim, dim_head = 64, 16
    layer = Attention(dim, heads, dim_head, 0.0, RotaryEmbedding(dim_head)).eval()
    _randomize(layer, seed=heads)
    x = torch.randn(2, 24, 13, dim, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        out = layer(x, axis)
    expected = _attention_reference(layer, x, axis)
    assert out.shape == x.shape
    assert (out.double() - expected).abs().max().item() < 2e-5


def test_rotary_output_is_contiguous_for_strided_input() -> None:
    rotary = RotaryEmbedding(8)
    base = torch.randn(3, 10, 5, 8)
    strided = base.transpose(1, 2)  # (3, 5, 10, 8): seq = 10, not contiguous
    out = rotary(strided)
    assert out.is_contiguous()
    expected = _rotate(strided.double(), rotary.freqs)
    assert (out.double() - expected).abs().max().item() < 1e-5


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_mask_estimator_matches_per_band_mlps(num_layers: int) -> None:
    # band widths with three padded groups, odd widths included
    dim_inputs = [4, 4, 6, 10, 12, 12, 26, 30]
    estimator = MaskEstimator(32, dim_inputs, num_layers, mlp_expansion_factor=2).eval()
    _randomize(estimator, seed=num_layers)
    x = torch.randn(2, 9, len(dim_inputs), 32, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        out = estimator(x)
    # MSST: each band's own nn.Sequential (Linear, Tanh, …, Linear, GLU) on its own features
    expected = torch.cat(
        [estimator.to_freqs[band](x[:, :, band]) for band in range(len(dim_inputs))], dim=-1
    )
    assert out.shape == (2, 9, sum(dim_inputs))
    assert (out - expected).abs().max().item() < 1e-5


def test_band_split_matches_per_band_norm_and_linear() -> None:
    dim_inputs = [4, 4, 6, 10, 12, 26, 30]
    split = BandSplit(48, dim_inputs).eval()
    _randomize(split, seed=11)
    x = torch.randn(2, 9, sum(dim_inputs), generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        out = split(x)
    # MSST: each band's nn.Sequential(RMSNorm, Linear) on its slice of the features
    edges = [0, *torch.tensor(dim_inputs).cumsum(0).tolist()]
    expected = torch.stack(
        [
            split.to_features[i](x[..., lo:hi])
            for i, (lo, hi) in enumerate(itertools.pairwise(edges))
        ],
        dim=2,
    )
    assert out.shape == (2, 9, len(dim_inputs), 48)
    assert (out - expected).abs().max().item() < 1e-5
