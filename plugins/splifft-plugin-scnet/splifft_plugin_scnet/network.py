"""SCNet: Sparse Compression Network, see <https://arxiv.org/abs/2401.13276>.

The module tree mirrors SCNet's (as shipped in Music-Source-Separation-Training, MSST) so its
checkpoints load with `strict=True`: `encoder.{i}.{SDlayer,conv_modules,globalconv}`,
`decoder.{k}.{0: fusion, 1: sparse up-sampling}` (deepest first) and
`separation_net.dp_modules.{i}.{lstm_layers,linear_layers,norm_layers}`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from splifft_core.stem_heads import keep_conv_outputs, stem_rows
from splifft_core.stft import istft, make_window, stft
from splifft_plugin_scnet.params import ScnetMaskedParams, ScnetParams, ScnetTranParams


class ConvolutionModule(nn.Module):
    """Residual stack of (norm, GLU conv, depthwise conv, norm, swish, pointwise conv) on time."""

    def __init__(self, channels: int, depth: int, compress: float, kernel: int) -> None:
        super().__init__()
        hidden = int(channels / compress)
        padding = kernel // 2
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.GroupNorm(1, channels),
                nn.Conv1d(channels, hidden * 2, kernel, padding=padding),
                nn.GLU(1),
                nn.Conv1d(hidden, hidden, kernel, padding=padding, groups=hidden),
                nn.GroupNorm(1, hidden),
                nn.SiLU(),
                nn.Conv1d(hidden, channels, 1),
            )
            for _ in range(abs(depth))
        )

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = x + layer(x)
        return x


def band_bounds(bins: int, ratios: tuple[float, float, float]) -> list[tuple[int, int]]:
    """Low/mid/high bin ranges; rounding up as SCNet does."""
    low_end = math.ceil(bins * ratios[0])
    mid_end = math.ceil(bins * (ratios[0] + ratios[1]))
    return [(0, low_end), (low_end, mid_end), (mid_end, bins)]


class SparseDownsample(nn.Module):
    """Per-band strided convolution along frequency (SCNet's `SDlayer`)."""

    def __init__(self, channels_in: int, channels_out: int, params: ScnetParams) -> None:
        super().__init__()
        self.ratios = params.band_ratios
        self.strides = params.band_strides
        self.kernels = params.band_kernels
        self.convs = nn.ModuleList(
            nn.Conv2d(channels_in, channels_out, (kernel, 1), (stride, 1))
            for kernel, stride in zip(self.kernels, self.strides, strict=True)
        )

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[int]]:
        bands: list[Tensor] = []
        lengths: list[int] = []
        bounds = band_bounds(x.shape[2], self.ratios)
        for conv, stride, kernel, (start, end) in zip(
            self.convs, self.strides, self.kernels, bounds, strict=True
        ):
            band = x[:, :, start:end]
            lengths.append(end - start)
            # Pad so the strided convolution covers the band exactly.
            pad = kernel - stride if stride == 1 else (stride - band.shape[2] % stride) % stride
            bands.append(conv(F.pad(band, (0, 0, pad // 2, pad - pad // 2))))
        return bands, lengths


class SparseUpsample(nn.Module):
    """Per-band transposed convolution back to each band's original size (SCNet's `SUlayer`)."""

    def __init__(self, channels_in: int, channels_out: int, params: ScnetParams) -> None:
        super().__init__()
        self.convtrs = nn.ModuleList(
            nn.ConvTranspose2d(channels_in, channels_out, (kernel, 1), (stride, 1))
            for kernel, stride in zip(params.band_kernels, params.band_strides, strict=True)
        )

    def forward(self, x: Tensor, lengths: list[int], original_lengths: list[int]) -> Tensor:
        starts = [0, lengths[0], lengths[0] + lengths[1]]
        ends = [lengths[0], lengths[0] + lengths[1], x.shape[2]]
        outputs = []
        for convtr, start, end, original in zip(
            self.convtrs, starts, ends, original_lengths, strict=True
        ):
            out = convtr(x[:, :, start:end])
            trim = abs(original - out.shape[2]) // 2
            outputs.append(out[:, :, trim : trim + original])
        return torch.cat(outputs, dim=2)


class SparseDownBlock(nn.Module):
    """Sparse down-sampling, a convolution module per band, then a global 3x3 convolution."""

    def __init__(self, channels_in: int, channels_out: int, params: ScnetParams) -> None:
        super().__init__()
        self.SDlayer = SparseDownsample(channels_in, channels_out, params)
        self.conv_modules = nn.ModuleList(
            ConvolutionModule(channels_out, depth, params.compress, params.conv_kernel)
            for depth in params.conv_depths
        )
        self.globalconv = nn.Conv2d(channels_out, channels_out, 3, 1, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, list[int], list[int]]:
        bands, original_lengths = self.SDlayer(x)
        processed = []
        for conv, band in zip(self.conv_modules, bands, strict=True):
            batch, channels, freq, frames = band.shape
            # The convolution module runs along time, one frequency row at a time.
            rows = band.permute(0, 2, 1, 3).reshape(batch * freq, channels, frames)
            rows = conv(rows).view(batch, freq, channels, frames).permute(0, 2, 1, 3)
            processed.append(F.gelu(rows))
        lengths = [band.shape[2] for band in processed]
        skip = torch.cat(processed, dim=2)
        return self.globalconv(skip), skip, lengths, original_lengths


class FusionLayer(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels * 2, channels * 2, 3, 1, 1)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = (x + skip).repeat(1, 2, 1, 1)
        return F.glu(self.conv(x), dim=1)


class DualPathRnn(nn.Module):
    """A bidirectional LSTM over frequency, then one over time, each residual."""

    def __init__(self, channels: int, expand: int) -> None:
        super().__init__()
        hidden = channels * expand
        self.lstm_layers = nn.ModuleList(
            nn.LSTM(channels, hidden, num_layers=1, bidirectional=True, batch_first=True)
            for _ in range(2)
        )
        self.linear_layers = nn.ModuleList(nn.Linear(hidden * 2, channels) for _ in range(2))
        self.norm_layers = nn.ModuleList(nn.GroupNorm(1, channels) for _ in range(2))

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, freq, frames = x.shape
        residual = x
        y = self.norm_layers[0](x).transpose(1, 3).contiguous().view(batch * frames, freq, channels)
        y = self.linear_layers[0](self.lstm_layers[0](y)[0])
        x = y.view(batch, frames, freq, channels).transpose(1, 3) + residual

        residual = x
        y = self.norm_layers[1](x).transpose(1, 2).contiguous().view(batch * freq, channels, frames)
        y = self.linear_layers[1](self.lstm_layers[1](y.transpose(1, 2))[0])
        y = y.transpose(1, 2).contiguous().view(batch, freq, channels, frames).transpose(1, 2)
        out: Tensor = y + residual
        return out


class SeparationNet(nn.Module):
    """Dual-path layers alternating between the time axis and its (real, imag) spectrum.

    Layer `i` sees `channels * (2 if i % 2 else 1)` channels (the spectrum's real and imaginary
    parts side by side).
    """

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.dp_modules = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.dp_modules):
            x = layer(x)
            if i % 2 == 0:
                spectrum = torch.fft.rfft(x.float(), dim=3, norm="ortho")
                x = torch.cat([spectrum.real, spectrum.imag], dim=1)
            else:
                half = x.shape[1] // 2
                x = x.float()
                x = torch.fft.irfft(torch.complex(x[:, :half], x[:, half:]), dim=3, norm="ortho")
        return x


class RmsNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = F.normalize(x, dim=-1) * self.scale * self.gamma
        return out


class RotaryEmbedding(nn.Module):
    """Rotary position embedding of the first `dim` features, interleaved pairs.

    `freqs` is a (frozen) parameter, as in the reference's checkpoints.
    """

    def __init__(self, dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        freqs = 1.0 / theta ** (torch.arange(0, dim, 2).float() / dim)
        self.freqs = nn.Parameter(freqs, requires_grad=False)

    def forward(self, t: Tensor) -> Tensor:
        """Rotate `(..., sequence, features)`."""
        positions = torch.arange(t.shape[-2], device=t.device, dtype=t.dtype)
        angles = (positions.to(self.freqs.dtype)[:, None] * self.freqs).repeat_interleave(2, -1)
        rot = angles.shape[-1]
        head, tail = t[..., :rot], t[..., rot:]
        pairs = head.reshape(*head.shape[:-1], -1, 2)
        turned = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        out = torch.cat((head * angles.cos() + turned * angles.sin(), tail), dim=-1)
        return out.to(t.dtype)


class Attention(nn.Module):
    """Pre-norm multi-head self-attention with rotary positions and per-head sigmoid gates."""

    def __init__(self, dim: int, heads: int, dim_head: int, rotary_dim: int) -> None:
        super().__init__()
        self.heads = heads
        inner = heads * dim_head
        self.norm = RmsNorm(dim)
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.to_gates = nn.Linear(dim, heads)
        self.to_out = nn.Sequential(nn.Linear(inner, dim, bias=False))
        self.rotary_embed = RotaryEmbedding(rotary_dim)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(x)
        batch, length, _ = x.shape
        qkv = self.to_qkv(x).view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k = self.rotary_embed(qkv[0]), self.rotary_embed(qkv[1])
        out = F.scaled_dot_product_attention(q, k, qkv[2])
        out = out * self.to_gates(x).transpose(1, 2).unsqueeze(-1).sigmoid()
        out = out.transpose(1, 2).reshape(batch, length, -1)
        result: Tensor = self.to_out(out)
        return result


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        # Identity where the reference has (inference-time no-op) dropouts, keeping its indices.
        self.net = nn.Sequential(
            RmsNorm(dim),
            nn.Linear(dim, dim * mult),
            nn.GELU(),
            nn.Identity(),
            nn.Linear(dim * mult, dim),
            nn.Identity(),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        return out


class Transformer(nn.Module):
    def __init__(self, dim: int, params: ScnetTranParams) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    Attention(dim, params.heads, params.dim_head, params.rotary_embedding_dim),
                    FeedForward(dim),
                ]
            )
            for _ in range(params.transformer_depth)
        )
        self.norm = RmsNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            assert isinstance(layer, nn.ModuleList)
            x = layer[0](x) + x
            x = layer[1](x) + x
        out: Tensor = self.norm(x)
        return out


class DualPathTransformer(nn.Module):
    """A transformer over frequency, then one over time, each residual (`scnet_tran`)."""

    def __init__(self, channels: int, params: ScnetTranParams) -> None:
        super().__init__()
        self.norm_layers = nn.ModuleList(nn.GroupNorm(1, channels) for _ in range(2))
        self.time_layer = Transformer(channels, params)
        self.freq_layer = Transformer(channels, params)

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, freq, frames = x.shape
        residual = x
        y = self.norm_layers[0](x).transpose(1, 3).contiguous().view(batch * frames, freq, channels)
        x = self.freq_layer(y).view(batch, frames, freq, channels).transpose(1, 3) + residual

        residual = x
        y = self.norm_layers[1](x).transpose(1, 2).contiguous().view(batch * freq, channels, frames)
        y = self.time_layer(y.transpose(1, 2))
        y = y.transpose(1, 2).contiguous().view(batch, freq, channels, frames).transpose(1, 2)
        out: Tensor = y + residual
        return out


class Scnet(nn.Module):
    """`(batch, channels, samples)` → `(batch, stems, channels, samples)`."""

    window: Tensor

    def __init__(self, params: ScnetParams) -> None:
        super().__init__()
        self.params = params
        self.num_stems = len(params.output_stem_names)
        dims = params.dims
        self.encoder = nn.ModuleList(
            SparseDownBlock(dims[i], dims[i + 1], params) for i in range(len(dims) - 1)
        )
        # Deepest first, so decoder[k] undoes encoder[-1 - k].
        self.decoder = nn.ModuleList(
            nn.ModuleList(
                [
                    FusionLayer(dims[i + 1]),
                    SparseUpsample(
                        dims[i + 1], dims[i] * (self.num_stems if i == 0 else 1), params
                    ),
                ]
            )
            for i in reversed(range(len(dims) - 1))
        )
        self.separation_net = SeparationNet(self.dual_path_layers(params))
        self.stft_params = params.stft
        self.register_buffer("window", make_window(self.stft_params), persistent=False)

    def dual_path_layers(self, params: ScnetParams) -> list[nn.Module]:
        channels = params.dims[-1]
        return [
            DualPathRnn(channels * (2 if i % 2 else 1), params.expand)
            for i in range(params.num_dual_path_layers)
        ]

    def forward(self, audio: Tensor) -> Tensor:
        batch, channels, samples = audio.shape
        spec = self.spectrum(audio)
        x = self.output_spectrum(self.features(spec), spec)
        return self.waveform(x, batch, channels)[..., :samples]

    def spectrum(self, audio: Tensor) -> Tensor:
        """`(batch, 2 * channels, freq, frames)`: each channel's real and imaginary part."""
        batch, channels, samples = audio.shape
        hop = self.params.hop_length
        # An even number of STFT frames lets the separation net use a real FFT over time.
        padding = hop - samples % hop
        if (samples + padding) // hop % 2 == 0:
            padding += hop
        x = F.pad(audio, (0, padding))
        spec = torch.view_as_real(stft(x, self.stft_params, self.window))  # (b, c, f, t, 2)
        freq, frames = spec.shape[-3:-1]
        return spec.permute(0, 1, 4, 2, 3).reshape(batch, channels * 2, freq, frames)

    def features(self, x: Tensor) -> Tensor:
        """Encoder, separation net and decoder: `(batch, stems * 2 * channels, freq, frames)`."""
        skips = []
        for block in self.encoder:
            x, skip, lengths, original_lengths = block(x)
            skips.append((skip, lengths, original_lengths))

        x = self.separation_net(x)

        for stage in self.decoder:
            assert isinstance(stage, nn.ModuleList)
            fusion, upsample = stage[0], stage[1]
            skip, lengths, original_lengths = skips.pop()
            x = upsample(fusion(x, skip), lengths, original_lengths)
        return x

    def output_spectrum(self, x: Tensor, mixture: Tensor) -> Tensor:
        """The stems' spectra from the decoder's output (SCNet predicts them directly)."""
        return x

    def waveform(self, x: Tensor, batch: int, channels: int) -> Tensor:
        freq, frames = x.shape[-2:]
        spec = x.reshape(-1, 2, freq, frames).permute(0, 2, 3, 1)
        out = istft(torch.view_as_complex(spec.contiguous()), self.stft_params, window=self.window)
        return out.reshape(batch, -1, channels, out.shape[-1])


class ScnetMasked(Scnet):
    """`scnet_masked`: a learned per-bin embedding on the input, a complex mask on the output."""

    def __init__(self, params: ScnetMaskedParams) -> None:
        super().__init__(params)
        width = params.dims[0]
        self.pos_embed_f = nn.Parameter(torch.zeros(1, width, params.n_fft // 2 + 1, 1))
        nn.init.trunc_normal_(self.pos_embed_f, std=0.02)
        stems = width * self.num_stems
        self.mask_layer = nn.Sequential(
            nn.Conv2d(stems, 64, 3, padding="same"),
            nn.GELU(),
            nn.Conv2d(64, stems, 1),
            nn.Tanh(),
        )

    def features(self, x: Tensor) -> Tensor:
        return super().features(x + self.pos_embed_f)

    def output_spectrum(self, x: Tensor, mixture: Tensor) -> Tensor:
        """The mixture's spectrum times each stem's complex mask (in `(-1, 1)` per part)."""
        mask = self.mask_layer(x)
        freq, frames = x.shape[-2:]
        mix = mixture.repeat(1, self.num_stems, 1, 1).reshape(-1, 2, freq, frames)
        mask = mask.reshape(-1, 2, freq, frames)
        real = mix[:, 0] * mask[:, 0] - mix[:, 1] * mask[:, 1]
        imag = mix[:, 0] * mask[:, 1] + mix[:, 1] * mask[:, 0]
        return torch.stack((real, imag), dim=1).reshape(x.shape[0], -1, freq, frames)


class ScnetTran(Scnet):
    """`scnet_tran`: transformers with rotary positions in place of the dual-path LSTMs."""

    def __init__(self, params: ScnetTranParams) -> None:
        super().__init__(params)
        # In the reference's checkpoints, but never applied.
        self.first_conv = nn.Conv2d(params.dims[0], params.dims[0], 1, bias=False)

    def dual_path_layers(self, params: ScnetParams) -> list[nn.Module]:
        assert isinstance(params, ScnetTranParams)
        channels = params.dims[-1]
        return [
            DualPathTransformer(channels * (2 if i % 2 else 1), params)
            for i in range(params.num_dual_path_layers)
        ]


def build(params: ScnetParams) -> Scnet:
    return Scnet(params)


def build_masked(params: ScnetMaskedParams) -> ScnetMasked:
    return ScnetMasked(params)


def build_tran(params: ScnetTranParams) -> ScnetTran:
    return ScnetTran(params)


def select_stems(
    network: nn.Module, params: ScnetParams, stems: tuple[str, ...]
) -> tuple[nn.Module, tuple[str, ...]]:
    """Keep only the output channels of `stems` (in the order asked): the last up-sampling
    layer's, or for `scnet_masked` the mask head's last convolution's."""
    if not isinstance(network, Scnet):
        raise TypeError(f"expected an Scnet network, got {type(network).__name__}")
    rows = stem_rows(params.output_stem_names, stems, params.dims[0])
    if isinstance(network, ScnetMasked):
        # The mask head mixes every stem's decoder output; only its last convolution is per stem.
        head = network.mask_layer[2]
        assert isinstance(head, nn.Conv2d)
        network.mask_layer[2] = keep_conv_outputs(head, rows)
        network.num_stems = len(stems)
        return network, tuple(stems)
    last = network.decoder[-1]
    assert isinstance(last, nn.ModuleList)
    upsample = last[1]
    assert isinstance(upsample, SparseUpsample)
    with torch.no_grad():
        for i, convtr in enumerate(upsample.convtrs):
            assert isinstance(convtr, nn.ConvTranspose2d)
            assert convtr.bias is not None
            kernel, stride = params.band_kernels[i], params.band_strides[i]
            pruned = nn.ConvTranspose2d(convtr.in_channels, len(rows), (kernel, 1), (stride, 1)).to(
                convtr.weight.device, convtr.weight.dtype
            )
            pruned.weight.copy_(convtr.weight[:, rows])
            assert pruned.bias is not None
            pruned.bias.copy_(convtr.bias[rows])
            upsample.convtrs[i] = pruned
    network.num_stems = len(stems)
    return network, tuple(stems)
