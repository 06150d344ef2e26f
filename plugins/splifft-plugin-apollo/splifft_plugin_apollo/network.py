"""Apollo's network: band-split STFT features, band-sequence blocks, per-band spectrum heads.

The module tree (and its parameter and buffer names) is Apollo's, as in JusperLee/Apollo and
MSST's `models/look2hear`, so their state dicts load unchanged with `strict=True`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from splifft_plugin_apollo.params import NUM_HEADS, ROPE_WINDOW, ApolloParams

EPS = 1e-5


class RmsNorm(nn.Module):
    """RMS normalization over the channel axis of `(batch, channels, time)`."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(1, keepdim=True) + EPS)
        return normed.type_as(x) * self.weight[:, None]


def _rotate_pairs(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Interleaved rotary embedding: each pair `(a, b)` becomes `(a c - b s, b c + a s)`."""
    pairs = x.reshape(*x.shape[:-1], -1, 2)
    rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * cos + rotated * sin


class BandTransformer(nn.Module):
    """A pre-norm transformer layer over the bands: RoPE attention, then a gated MLP."""

    cos_freq: Tensor
    sin_freq: Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.head_dim = dim // NUM_HEADS
        inv_freq = 1.0 / (10000.0 ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim))
        angles = torch.arange(ROPE_WINDOW).float()[:, None] * inv_freq[None, :]
        self.register_buffer("cos_freq", angles.cos().repeat_interleave(2, dim=-1))
        self.register_buffer("sin_freq", angles.sin().repeat_interleave(2, dim=-1))
        self.input_norm = RmsNorm(dim)
        self.weight = nn.Conv1d(dim, 3 * NUM_HEADS * self.head_dim, 1, bias=False)
        self.output = nn.Conv1d(NUM_HEADS * self.head_dim, dim, 1, bias=False)
        self.MLP = nn.Sequential(RmsNorm(dim), nn.Conv1d(dim, 8 * dim, 1, bias=False), nn.SiLU())
        self.MLP_output = nn.Conv1d(4 * dim, dim, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """`(batch, dim, bands)` → the same shape."""
        batch, _, length = x.shape
        qkv = self.weight(self.input_norm(x)).reshape(batch, NUM_HEADS, 3 * self.head_dim, length)
        q, k, v = qkv.mT.split(self.head_dim, dim=-1)  # (batch, heads, bands, head_dim)
        cos, sin = self.cos_freq[:length], self.sin_freq[:length]
        attended = F.scaled_dot_product_attention(
            _rotate_pairs(q, cos, sin).contiguous(),
            _rotate_pairs(k, cos, sin).contiguous(),
            v.contiguous(),
        )
        x = x + self.output(attended.mT.reshape(batch, -1, length))
        gate, z = self.MLP(x).chunk(2, dim=1)
        out: Tensor = x + self.MLP_output(F.silu(gate) * z)
        return out


class ConvBlock(nn.Module):
    """Residual depthwise convolution, RMS norm and a pointwise SiLU MLP over time."""

    def __init__(self, dim: int, kernel: int = 7) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(dim, dim, kernel, padding=(kernel - 1) // 2, groups=dim),
            RmsNorm(dim),
            nn.Conv1d(dim, 4 * dim, 1),
            nn.SiLU(),
            nn.Conv1d(4 * dim, dim, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = x + self.conv(x)
        return out


class SequenceNet(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(ConvBlock(dim), ConvBlock(dim), ConvBlock(dim))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.blocks(x)
        return out


class BandSequenceBlock(nn.Module):
    """Attention across the bands of each frame, then convolutions along each band's frames."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.band_net = BandTransformer(dim)
        self.seq_net = SequenceNet(dim)

    def forward(self, x: Tensor) -> Tensor:
        """`(batch, bands, dim, frames)` → the same shape."""
        batch, bands, dim, frames = x.shape
        across = x.permute(0, 3, 2, 1).reshape(batch * frames, dim, bands)
        across = self.band_net(across).reshape(batch, frames, dim, bands).permute(0, 3, 2, 1)
        along = self.seq_net(across.reshape(batch * bands, dim, frames))
        out: Tensor = along.reshape(batch, bands, dim, frames)
        return out


class Apollo(nn.Module):
    """`(batch, channels, samples)` → `(batch, 1, channels, samples)`, the restored audio."""

    window: Tensor

    def __init__(self, params: ApolloParams) -> None:
        super().__init__()
        self.params = params
        self.win = params.win_length
        self.hop = params.hop_length
        self.band_widths = params.band_widths
        self.eps = torch.finfo(torch.float32).eps
        dim = params.feature_dim
        self.register_buffer("window", torch.hann_window(self.win), persistent=False)
        self.BN = nn.ModuleList(
            nn.Sequential(RmsNorm(2 * width + 1), nn.Conv1d(2 * width + 1, dim, 1))
            for width in self.band_widths
        )
        self.net = nn.Sequential(*(BandSequenceBlock(dim) for _ in range(params.layers)))
        self.output = nn.ModuleList(
            nn.Sequential(RmsNorm(dim), nn.Conv1d(dim, 4 * width, 1), nn.GLU(dim=1))
            for width in self.band_widths
        )

    def _features(self, spec: Tensor) -> Tensor:
        """Each band's spectrum normalized by its energy, with the log energy, embedded."""
        features = []
        for band, head in zip(
            torch.split(spec, list(self.band_widths), dim=1), self.BN, strict=True
        ):
            energy = (band.abs().pow(2).sum(1, keepdim=True) + self.eps).sqrt()
            normed = torch.cat([band.real / energy, band.imag / energy, energy.log()], dim=1)
            features.append(head(normed))
        return torch.stack(features, dim=1)  # (batch, bands, dim, frames)

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, samples = x.shape
        flat = x.reshape(batch * channels, samples)
        window = self.window.to(device=x.device, dtype=flat.dtype)
        spec = torch.stft(
            flat, n_fft=self.win, hop_length=self.hop, window=window, return_complex=True
        )
        feature = self.net(self._features(spec))
        bands = []
        for index, (head, width) in enumerate(zip(self.output, self.band_widths, strict=True)):
            real_imag = head(feature[:, index]).reshape(batch * channels, 2, width, -1)
            bands.append(torch.complex(real_imag[:, 0], real_imag[:, 1]))
        estimate = torch.cat(bands, dim=1).to(torch.complex64)
        restored = torch.istft(
            estimate, n_fft=self.win, hop_length=self.hop, window=window.float(), length=samples
        )
        return restored.reshape(batch, 1, channels, samples)


def build(params: ApolloParams) -> Apollo:
    return Apollo(params)
