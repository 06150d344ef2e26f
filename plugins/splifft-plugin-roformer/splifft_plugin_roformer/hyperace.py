"""unwa's HyperACE mask heads for BS-RoFormer (v1 and v2).

Each stem's head is BS-RoFormer's per-band MLPs plus a residual from a convolutional
segmentation network over the `(dim, frames, bands)` grid: a strided backbone, HyperACE (an
adaptive hypergraph over the fused multi-scale features, Lei et al. 2025), a U-Net-style decoder
and a head that upsamples the band axis to the STFT bins by pixel shuffles. v2 downsamples the
band axis too in the two deepest stages and refines each pixel shuffle with TFC-TDF blocks.

Module names and nesting follow unwa's code, so that the published checkpoints load with
`strict=True`; every module below holds exactly the parameters the checkpoint has for it.

The forwards keep every activation channels-last (`splifft_core.kernels`): the heads' input, a
permuted `(b, frames, bands, dim)` tensor, already is; 1×1 convolutions are matmuls over the
channels and instance norms run through batch norm's channels-last kernel. The arithmetic is
unwa's; only the memory layout and the kernels differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from splifft_core.kernels import (
    channels_last,
    conv2d,
    instance_norm,
    linear_last_axis,
    pointwise_conv,
)
from splifft_plugin_roformer.network import MaskEstimator

_EPS = 1e-8
"""Every instance norm of these heads uses this epsilon."""


def _norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=True, eps=_EPS)


def _norm_silu(x: Tensor, norm: nn.InstanceNorm2d) -> Tensor:
    return instance_norm(x, norm.weight, norm.bias, norm.eps, silu=True)


def _resize(x: Tensor, size: Sequence[int]) -> Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class Conv(nn.Module):
    """Convolution (no bias), instance norm, SiLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2, bias=False)
        self.bn = _norm(c_out)

    def forward(self, x: Tensor) -> Tensor:
        return _norm_silu(conv2d(x, self.conv), self.bn)


class DSConv(nn.Module):
    """Depthwise 3×3 then pointwise convolution, instance norm, SiLU."""

    def __init__(self, c_in: int, c_out: int, stride: int | tuple[int, int] = 1) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False)
        self.pwconv = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = _norm(c_out)

    def forward(self, x: Tensor, channel_order: Tensor | None = None) -> Tensor:
        """`channel_order`: which output channels to compute, in this order."""
        norm = self.bn
        weight: Tensor = self.pwconv.weight
        gamma: Tensor = norm.weight
        beta: Tensor = norm.bias
        if channel_order is not None:
            weight, gamma, beta = weight[channel_order], gamma[channel_order], beta[channel_order]
        out = pointwise_conv(conv2d(x, self.dwconv), weight)
        return instance_norm(out, gamma, beta, norm.eps, silu=True)


class DS_Bottleneck(nn.Module):  # noqa: N801 (the checkpoint's name)
    """Two `DSConv`s with a residual."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.dsconv1 = DSConv(channels, channels)
        self.dsconv2 = DSConv(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = x + self.dsconv2(self.dsconv1(x))
        return out


class DS_C3k(nn.Module):  # noqa: N801
    """CSP block: bottlenecks on one 1×1 branch, concatenated with a second 1×1 branch."""

    def __init__(self, c_in: int, c_out: int, n: int, hidden: int) -> None:
        super().__init__()
        self.cv1 = Conv(c_in, hidden)
        self.cv2 = Conv(c_in, hidden)
        self.cv3 = Conv(2 * hidden, c_out)
        self.m = nn.Sequential(*(DS_Bottleneck(hidden) for _ in range(n)))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), dim=1))
        return out


class DS_C3k2(nn.Module):  # noqa: N801
    """1×1 down to half of `c_out`, a `DS_C3k` there, 1×1 up to `c_out`."""

    def __init__(self, c_in: int, c_out: int, n: int) -> None:
        super().__init__()
        half = c_out // 2
        self.cv1 = Conv(c_in, half)
        self.m = DS_C3k(half, half, n, half)
        self.cv2 = Conv(half, c_out)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.cv2(self.m(self.cv1(x)))
        return out


class AdaptiveHyperedgeGeneration(nn.Module):
    """Soft participation of each vertex in `num_hyperedges` hyperedges, `(b, edges, vertices)`:
    learned prototypes shifted by the pooled context, matched against the vertices per head."""

    def __init__(self, channels: int, num_hyperedges: int, num_heads: int) -> None:
        super().__init__()
        self.num_hyperedges = num_hyperedges
        self.num_heads = num_heads
        self.scale = (channels // num_heads) ** -0.5
        self.global_proto = nn.Parameter(torch.zeros(num_hyperedges, channels))
        self.context_mapper = nn.Linear(2 * channels, num_hyperedges * channels, bias=False)
        self.query_proj = nn.Linear(channels, channels, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        batch, vertices, channels = x.shape
        context = torch.cat((x.mean(dim=1), x.amax(dim=1)), dim=1)
        protos = self.global_proto + self.context_mapper(context).view(
            batch, self.num_hyperedges, channels
        )
        heads = self.num_heads
        q = self.query_proj(x).view(batch, vertices, heads, -1).transpose(1, 2)
        p = protos.view(batch, self.num_hyperedges, heads, -1).permute(0, 2, 3, 1)
        similarity = (q @ p).mul(self.scale).mean(dim=1)  # (b, vertices, edges)
        incidence: Tensor = similarity.transpose(1, 2).softmax(dim=-1)
        return incidence


class HypergraphConvolution(nn.Module):
    """Vertices → hyperedges → vertices, with a residual."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.W_e = nn.Linear(c_in, c_in, bias=False)
        self.W_v = nn.Linear(c_in, c_out, bias=False)
        self.act = nn.SiLU()

    def forward(self, x: Tensor, incidence: Tensor) -> Tensor:
        edges = self.act(self.W_e(incidence @ x))
        out: Tensor = x + self.act(self.W_v(incidence.transpose(1, 2) @ edges))
        return out


class AdaptiveHypergraphComputation(nn.Module):
    def __init__(self, channels: int, num_hyperedges: int, num_heads: int) -> None:
        super().__init__()
        self.adaptive_hyperedge_gen = AdaptiveHyperedgeGeneration(
            channels, num_hyperedges, num_heads
        )
        self.hypergraph_conv = HypergraphConvolution(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        """Every pixel of `(b, c, h, w)` is a vertex."""
        batch, channels, h, w = x.shape
        # channels-last, the `(b, h·w, c)` vertex matrix is a view
        vertices = channels_last(x).permute(0, 2, 3, 1).reshape(batch, h * w, channels)
        out: Tensor = self.hypergraph_conv(vertices, self.adaptive_hyperedge_gen(vertices))
        return out.view(batch, h, w, channels).permute(0, 3, 1, 2)


class C3AH(nn.Module):
    def __init__(self, channels: int, num_hyperedges: int, num_heads: int) -> None:
        super().__init__()
        self.cv1 = Conv(channels, channels)
        self.cv2 = Conv(channels, channels)
        self.ahc = AdaptiveHypergraphComputation(channels, num_hyperedges, num_heads)
        self.cv3 = Conv(2 * channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.cv3(torch.cat((self.ahc(self.cv2(x)), self.cv1(x)), dim=1))
        return out


class HyperACE(nn.Module):
    """Fuses the four backbone scales at the third one's resolution; splits the channels into a
    high-order (hypergraph), a low-order (convolutional) and an untouched share."""

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        num_hyperedges: int,
        num_heads: int,
        high_branches: int,
        low_blocks: int,
    ) -> None:
        super().__init__()
        mid = in_channels[2]
        self.fuse_conv = Conv(sum(in_channels), mid)
        self.c_h = mid // 2
        self.c_l = mid // 4
        self.c_s = mid - self.c_h - self.c_l
        self.high_order_branch = nn.ModuleList(
            C3AH(self.c_h, num_hyperedges, num_heads) for _ in range(high_branches)
        )
        self.high_order_fuse = Conv(self.c_h * high_branches, self.c_h)
        self.low_order_branch = nn.Sequential(
            *(DS_C3k(self.c_l, self.c_l, 1, self.c_l) for _ in range(low_blocks))
        )
        self.final_fuse = Conv(mid, out_channels)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        size = feats[2].shape[2:]
        resized = [f if i == 2 else _resize(f, size) for i, f in enumerate(feats)]
        fused = self.fuse_conv(torch.cat(resized, dim=1))
        high, low, rest = torch.split(fused, [self.c_h, self.c_l, self.c_s], dim=1)
        high = self.high_order_fuse(torch.cat([m(high) for m in self.high_order_branch], dim=1))
        out: Tensor = self.final_fuse(torch.cat((high, self.low_order_branch(low), rest), dim=1))
        return out


class GatedFusion(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        return x + self.gamma * h


_ENCODER_CHANNELS = (256, 384, 512, 768)
"""Widths of the backbone's four outputs (fixed, whatever the roformer's `dim`)."""


class Backbone(nn.Module):
    """A stem and four stages, each halving the time axis (v2: both axes in the last two)."""

    def __init__(self, in_channels: int, version: int, base_channels: int = 64) -> None:
        super().__init__()
        c2, c3, c4, c5 = _ENCODER_CHANNELS
        depth = 2
        deep_stride: int | tuple[int, int] = 2 if version == 2 else (2, 1)
        self.stem = DSConv(in_channels, base_channels, stride=(2, 1))
        self.p2 = nn.Sequential(DSConv(base_channels, c2, (2, 1)), DS_C3k2(c2, c2, depth))
        self.p3 = nn.Sequential(DSConv(c2, c3, (2, 1)), DS_C3k2(c3, c3, 2 * depth))
        self.p4 = nn.Sequential(DSConv(c3, c4, deep_stride), DS_C3k2(c4, c4, 2 * depth))
        self.p5 = nn.Sequential(DSConv(c4, c5, deep_stride), DS_C3k2(c5, c5, depth))

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        feats: list[Tensor] = []
        for stage in (self.p2, self.p3, self.p4, self.p5):
            x = stage(x)
            feats.append(x)
        return feats


class DecoderHyperAce(nn.Module):
    """From the deepest scale up: skip 1×1, gated HyperACE features, upsample, repeat."""

    def __init__(self, channels: Sequence[int], hyperace_channels: int) -> None:
        super().__init__()
        for i, c in zip((2, 3, 4, 5), channels, strict=True):
            self.add_module(f"h_to_d{i}", Conv(hyperace_channels, c))
            self.add_module(f"fusion_d{i}", GatedFusion(c))
            self.add_module(f"skip_p{i}", Conv(c, c))
        c2, c3, c4, c5 = channels
        self.up_d5 = DS_C3k2(c5, c4, 1)
        self.up_d4 = DS_C3k2(c4, c3, 1)
        self.up_d3 = DS_C3k2(c3, c2, 1)
        self.final_d2 = DS_C3k2(c2, c2, 1)

    def _gate(self, level: int, d: Tensor, h_ace: Tensor) -> Tensor:
        h = getattr(self, f"h_to_d{level}")(_resize(h_ace, d.shape[2:]))
        return cast(Tensor, getattr(self, f"fusion_d{level}")(d, h))

    def forward(self, feats: Sequence[Tensor], h_ace: Tensor) -> Tensor:
        d = self._gate(5, getattr(self, "skip_p5")(feats[3]), h_ace)  # noqa: B009
        for level, up in ((4, self.up_d5), (3, self.up_d4), (2, self.up_d3)):
            skip = feats[level - 2]
            d = up(_resize(d, skip.shape[2:])) + getattr(self, f"skip_p{level}")(skip)
            d = self._gate(level, d, h_ace)
        out: Tensor = self.final_d2(d)
        return out


class TfcTdfBlock(nn.Module):
    """Norm-SiLU-conv, a residual bottleneck MLP along the band axis, norm-SiLU-conv, with a
    1×1 shortcut around it all."""

    def __init__(self, c_in: int, c_out: int, bins: int, bottleneck: int = 4) -> None:
        super().__init__()
        self.tfc1 = nn.Sequential(
            _norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)
        )
        self.tdf = nn.Sequential(
            _norm(c_out),
            nn.SiLU(),
            nn.Linear(bins, bins // bottleneck, bias=False),
            _norm(c_out),
            nn.SiLU(),
            nn.Linear(bins // bottleneck, bins, bias=False),
        )
        self.tfc2 = nn.Sequential(
            _norm(c_out), nn.SiLU(), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        )
        self.shortcut = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        # the Sequentials hold the checkpoint's parameters; the steps run here, channels-last
        norm1, conv1 = cast(nn.InstanceNorm2d, self.tfc1[0]), cast(nn.Conv2d, self.tfc1[2])
        norm_in, down = cast(nn.InstanceNorm2d, self.tdf[0]), cast(nn.Linear, self.tdf[2])
        norm_mid, up = cast(nn.InstanceNorm2d, self.tdf[3]), cast(nn.Linear, self.tdf[5])
        norm2, conv2 = cast(nn.InstanceNorm2d, self.tfc2[0]), cast(nn.Conv2d, self.tfc2[2])
        h = conv2d(_norm_silu(x, norm1), conv1)
        t = linear_last_axis(_norm_silu(h, norm_in), down.weight)
        t = linear_last_axis(_norm_silu(t, norm_mid), up.weight, residual=h)
        out = conv2d(_norm_silu(t, norm2), conv2)
        return conv2d(x, self.shortcut, residual=out)


class TfcTdf(nn.Module):
    def __init__(self, c_in: int, c_out: int, num_blocks: int, bins: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TfcTdfBlock(c_in if i == 0 else c_out, c_out, bins) for i in range(num_blocks)
        )

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class FreqPixelShuffle(nn.Module):
    """`DSConv` to `2·c_out` channels, then those pairs become adjacent bins: `w → 2w`
    (v2: followed by two TFC-TDF blocks over the `bins` it then has)."""

    def __init__(self, c_in: int, c_out: int, bins: int | None) -> None:
        super().__init__()
        self.conv = DSConv(c_in, 2 * c_out)
        self.out_conv: nn.Module = nn.Identity() if bins is None else TfcTdf(c_out, c_out, 2, bins)

    def forward(self, x: Tensor) -> Tensor:
        channels = self.conv.pwconv.out_channels
        # Output channel 2k + s goes to channel k, bin 2w + s. Computed in the order (s, k),
        # channels-last, the `(b, h, w, 2, c/2)` result already is the `(b, h, 2w, c/2)` one.
        order = torch.arange(channels, device=x.device).view(-1, 2).t().flatten()
        pixels = self.conv(x, channel_order=order).permute(0, 2, 3, 1)
        batch, h, w, _ = pixels.shape
        shuffled = pixels.reshape(batch, h, 2 * w, channels // 2).permute(0, 3, 1, 2)
        out: Tensor = self.out_conv(shuffled)
        return out


class ProgressiveUpsampleHead(nn.Module):
    """Four pixel shuffles (16× the bands), resampled to `target_bins`, then a last conv."""

    def __init__(self, c_in: int, c_out: int, target_bins: int, bands: int, version: int) -> None:
        super().__init__()
        self.target_bins = target_bins
        if version == 1:
            widths = (c_in, c_in, c_in // 2, c_in // 2, c_in // 4)
        else:
            widths = (c_in, c_in // 2, c_in // 4, c_in // 8, c_in // 16)
        for i in range(4):
            bins = bands * 2 ** (i + 1) if version == 2 else None
            self.add_module(f"block{i + 1}", FreqPixelShuffle(widths[i], widths[i + 1], bins))
        kernel = 1 if version == 1 else 3
        self.final_conv = nn.Conv2d(widths[4], c_out, kernel, 1, kernel // 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        for i in range(4):
            x = getattr(self, f"block{i + 1}")(x)
        if x.shape[-1] != self.target_bins:
            x = _resize(x, (x.shape[2], self.target_bins))
        return conv2d(x, self.final_conv)


class SegmModelHyperAce(nn.Module):
    """`(b, dim, frames, bands)` → `(b, 4, frames, target_bins)`."""

    def __init__(
        self,
        *,
        dim: int,
        bands: int,
        target_bins: int,
        version: int,
        num_hyperedges: int,
        num_heads: int,
    ) -> None:
        super().__init__()
        enc = _ENCODER_CHANNELS
        self.backbone = Backbone(dim, version)
        self.hyperace = HyperACE(
            enc,
            enc[2],
            num_hyperedges,
            num_heads,
            high_branches=3 if version == 1 else 2,
            low_blocks=2 if version == 1 else 1,
        )
        self.decoder = DecoderHyperAce(enc, enc[2])
        self.upsample_head = ProgressiveUpsampleHead(enc[0], 4, target_bins, bands, version)

    def forward(self, x: Tensor) -> Tensor:
        feats = self.backbone(x)  # its first convolution makes `x` channels-last
        decoded = self.decoder(feats, self.hyperace(feats))
        decoded = _resize(decoded, (x.shape[2], decoded.shape[-1]))
        out: Tensor = self.upsample_head(decoded)
        return out


class HyperAceMaskEstimator(MaskEstimator):
    """BS-RoFormer's per-band MLP masks plus the segmentation network's residual.

    The residual's 4 channels per bin are (stereo channel, real / imaginary), in the order of
    the MLP masks' columns."""

    def __init__(
        self,
        dim: int,
        dim_inputs: Sequence[int],
        num_layers: int,
        mlp_expansion_factor: int,
        segm: SegmModelHyperAce,
    ) -> None:
        super().__init__(dim, dim_inputs, num_layers, mlp_expansion_factor)
        self.segm = segm

    def forward(self, x: Tensor) -> Tensor:
        residual: Tensor = self.segm(x.permute(0, 3, 1, 2))  # (b, 4, t, bins)
        return super().forward(x) + residual.permute(0, 2, 3, 1).flatten(2)
