"""TFC-TDF-UNet v3 (MDX23C), see <https://arxiv.org/abs/2306.09382>.

The module tree mirrors Music-Source-Separation-Training's `TFC_TDF_net` so its checkpoints load
with `strict=True`: `first_conv`, `encoder_blocks.{i}.{tfc_tdf,downscale}`, `bottleneck_block`,
`decoder_blocks.{i}.{upscale,tfc_tdf}`, `final_conv`, with norm/activation/conv at the same
`nn.Sequential` indices.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from splifft_core import stft as core_stft
from splifft_core.stem_heads import keep_conv_outputs, stem_rows
from splifft_plugin_mdx23c.params import Mdx23cParams

NormFactory = Callable[[int], nn.Module]


def norm_factory(norm: str) -> NormFactory:
    def make(channels: int) -> nn.Module:
        if norm == "BatchNorm":
            return nn.BatchNorm2d(channels)
        if norm == "InstanceNorm":
            return nn.InstanceNorm2d(channels, affine=True)
        if norm.startswith("GroupNorm"):
            return nn.GroupNorm(
                num_groups=int(norm.removeprefix("GroupNorm")), num_channels=channels
            )
        return nn.Identity()

    return make


def activation(act: str) -> nn.Module:
    if act == "gelu":
        return nn.GELU()
    if act == "relu":
        return nn.ReLU()
    return nn.ELU(float(act.removeprefix("elu")))


class TfcTdfBlock(nn.Module):
    """Time-frequency convolutions around a frequency-axis bottleneck MLP, with a 1x1 shortcut."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        freq_bins: int,
        bottleneck_factor: int,
        norm: NormFactory,
        act: nn.Module,
    ) -> None:
        super().__init__()
        self.tfc1 = nn.Sequential(
            norm(in_channels), act, nn.Conv2d(in_channels, channels, 3, 1, 1, bias=False)
        )
        hidden_bins = freq_bins // bottleneck_factor
        self.tdf = nn.Sequential(
            norm(channels),
            act,
            nn.Linear(freq_bins, hidden_bins, bias=False),
            norm(channels),
            act,
            nn.Linear(hidden_bins, freq_bins, bias=False),
        )
        self.tfc2 = nn.Sequential(
            norm(channels), act, nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        )
        self.shortcut = nn.Conv2d(in_channels, channels, 1, 1, 0, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = self.shortcut(x)
        x = self.tfc1(x)
        x = x + self.tdf(x)
        out: Tensor = self.tfc2(x) + shortcut
        return out


class TfcTdf(nn.Module):
    def __init__(
        self,
        in_channels: int,
        channels: int,
        num_blocks: int,
        freq_bins: int,
        bottleneck_factor: int,
        norm: NormFactory,
        act: nn.Module,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TfcTdfBlock(
                in_channels if i == 0 else channels,
                channels,
                freq_bins,
                bottleneck_factor,
                norm,
                act,
            )
            for i in range(num_blocks)
        )

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class Rescale(nn.Module):
    """Norm, activation, then a strided (transposed) convolution by `scale`."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        scale: tuple[int, int],
        norm: NormFactory,
        act: nn.Module,
        *,
        up: bool,
    ) -> None:
        super().__init__()
        conv_type = nn.ConvTranspose2d if up else nn.Conv2d
        self.conv = nn.Sequential(
            norm(in_channels),
            act,
            conv_type(in_channels, out_channels, kernel_size=scale, stride=scale, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.conv(x)
        return out


class EncoderBlock(nn.Module):
    def __init__(self, tfc_tdf: TfcTdf, downscale: Rescale) -> None:
        super().__init__()
        self.tfc_tdf = tfc_tdf
        self.downscale = downscale


class DecoderBlock(nn.Module):
    def __init__(self, upscale: Rescale, tfc_tdf: TfcTdf) -> None:
        super().__init__()
        self.upscale = upscale
        self.tfc_tdf = tfc_tdf


class Mdx23c(nn.Module):
    """`(batch, channels, samples)` → `(batch, stems, channels, samples)`."""

    window: Tensor

    def __init__(self, params: Mdx23cParams) -> None:
        super().__init__()
        self.params = params
        norm = norm_factory(params.norm)
        # One activation instance shared by all layers, as in MSST (they hold no weights).
        act = activation(params.act)
        self.spec_channels = params.num_subbands * params.audio_channels * 2
        self.num_stems = len(params.output_stem_names)

        bn = params.bottleneck_factor
        blocks = params.num_blocks_per_scale
        growth = params.growth
        channels = params.hidden_channels
        freq_bins = params.dim_f // params.num_subbands

        self.first_conv = nn.Conv2d(self.spec_channels, channels, 1, 1, 0, bias=False)

        self.encoder_blocks = nn.ModuleList()
        for _ in range(params.num_scales):
            self.encoder_blocks.append(
                EncoderBlock(
                    TfcTdf(channels, channels, blocks, freq_bins, bn, norm, act),
                    Rescale(channels, channels + growth, params.scale, norm, act, up=False),
                )
            )
            freq_bins //= params.scale[1]
            channels += growth

        self.bottleneck_block = TfcTdf(channels, channels, blocks, freq_bins, bn, norm, act)

        self.decoder_blocks = nn.ModuleList()
        for _ in range(params.num_scales):
            upscale = Rescale(channels, channels - growth, params.scale, norm, act, up=True)
            freq_bins *= params.scale[1]
            channels -= growth
            self.decoder_blocks.append(
                DecoderBlock(
                    upscale, TfcTdf(2 * channels, channels, blocks, freq_bins, bn, norm, act)
                )
            )

        self.final_conv = nn.Sequential(
            nn.Conv2d(channels + self.spec_channels, channels, 1, 1, 0, bias=False),
            act,
            nn.Conv2d(channels, self.num_stems * self.spec_channels, 1, 1, 0, bias=False),
        )
        self.stft_params = params.stft
        self.register_buffer("window", core_stft.make_window(self.stft_params), persistent=False)

    def padded_length(self, samples: int) -> int:
        """The shortest length ≥ `samples` whose STFT frames the U-Net can halve `num_scales` times.

        MSST's chunk sizes already are such lengths; other ones (a user's chunk size) are
        zero-padded on the right and the output cropped back.
        """
        hop = self.params.hop_length
        multiple = int(self.params.scale[0] ** self.params.num_scales)
        frames = -(-samples // hop) + 1
        frames = -(-frames // multiple) * multiple
        return (frames - 1) * hop

    def forward(self, audio: Tensor) -> Tensor:
        samples = audio.shape[-1]
        padded = self.padded_length(samples)
        if padded != samples:
            return self.forward(nn.functional.pad(audio, (0, padded - samples)))[..., :samples]
        mix = core_stft.to_subbands(
            core_stft.stft_channels(audio, self.stft_params, self.window, self.params.dim_f),
            self.params.num_subbands,
        )
        first = self.first_conv(mix)
        # The TDF linear layers act on the last axis: frequency.
        x = first.transpose(-1, -2)

        skips: list[Tensor] = []
        for encoder in self.encoder_blocks:
            assert isinstance(encoder, EncoderBlock)
            x = encoder.tfc_tdf(x)
            skips.append(x)
            x = encoder.downscale(x)

        x = self.bottleneck_block(x)

        for decoder in self.decoder_blocks:
            assert isinstance(decoder, DecoderBlock)
            x = decoder.upscale(x)
            x = decoder.tfc_tdf(torch.cat([x, skips.pop()], 1))

        # Gating by the first conv's output reduces artifacts (MSST's comment).
        x = x.transpose(-1, -2) * first
        x = core_stft.from_subbands(
            self.final_conv(torch.cat([mix, x], 1)), self.params.num_subbands
        )
        batch, _, freq, frames = x.shape
        spec = x.reshape(batch, -1, self.spec_channels // self.params.num_subbands, freq, frames)
        return core_stft.istft_channels(spec, self.stft_params, samples, self.window)


def build(params: Mdx23cParams) -> Mdx23c:
    return Mdx23c(params)


def select_stems(
    network: nn.Module, params: Mdx23cParams, stems: tuple[str, ...]
) -> tuple[nn.Module, tuple[str, ...]]:
    """Keep only the final convolution's output channels of `stems` (in the order asked)."""
    if not isinstance(network, Mdx23c):
        raise TypeError(f"expected an Mdx23c network, got {type(network).__name__}")
    rows = stem_rows(params.output_stem_names, stems, network.spec_channels)
    head = network.final_conv[2]
    assert isinstance(head, nn.Conv2d)
    network.final_conv[2] = keep_conv_outputs(head, rows)
    network.num_stems = len(stems)
    return network, tuple(stems)
