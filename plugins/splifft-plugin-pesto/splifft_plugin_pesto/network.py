"""PESTO as a chunk network: harmonic CQT → log power → crop → `Resnet1d` encoder, plus the
voicing head, returning `{activations: (b, frames, 128·bps), confidence: (b, frames)}`.

Follows `pesto-pitch` 2.0.1 (`pesto/model.py`, `pesto/data.py`, `pesto/utils/hcqt.py`, LGPL-3.0)
operation for operation, so that the numbers agree to float32 rounding:

- the CQT is nnAudio's time-domain one: per harmonic, a strided `Conv1d` whose kernels (the
  real and minus the imaginary part of each bin's Hann-windowed, L1-normalised complex
  exponential, centred in a power-of-two width `K`) are built here, reflect-padded by `K/2`
  (so frame j is centred at sample `j·hop` and a signal of n samples gives `n // hop + 1`
  frames), scaled by `sqrt(filter length)` (librosa's normalisation);
- `20·log10(max(|cqt|, eps))`, then PESTO multiplies that *in place* by `ln 10 / 10`: the
  encoder sees `ln |cqt|²` and the voicing classifier the power `|cqt|²`;
- frames are independent after the CQT (time is the encoder's batch dimension), so a frame's
  context is the CQT kernel only;
- the activations are rolled by `−round(shift · bps)` bins (the checkpoint's `shift` buffer).

Dropout layers become `nn.Identity` (inference only); module names match PESTO's so that its
`state_dict` loads as is.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel
from torch import Tensor, nn

from splifft_plugin_pesto.params import PestoParams


def cqt_kernels(
    sample_rate: int, fmin: float, n_bins: int, bins_per_octave: int, gamma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Complex CQT kernels `(n_bins, K)` (complex64) and the filter lengths `(n_bins,)`.

    nnAudio's `create_cqt_kernels` with `filter_scale=1`, `norm=1` and a periodic Hann window:
    bin k at `fmin·2^(k/B)` has `ceil(Q·sr / (f_k + γ/α))` taps, `Q = 1/α`, `α = 2^(1/B) − 1`.
    """
    alpha = 2.0 ** (1.0 / bins_per_octave) - 1.0
    q = 1.0 / alpha
    freqs = fmin * 2.0 ** (np.arange(n_bins) / np.double(bins_per_octave))
    lengths = np.ceil(q * sample_rate / (freqs + gamma / alpha))
    width = int(2 ** (np.ceil(np.log2(int(lengths.max())))))
    kernels = np.zeros((n_bins, width), dtype=np.complex64)
    for k in range(n_bins):
        taps = int(lengths[k])
        start = int(np.ceil(width / 2.0 - taps / 2.0)) - (1 if taps % 2 == 1 else 0)
        n = np.arange(taps)
        window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / taps)  # periodic Hann
        # time indices -⌈taps/2⌉ … ⌊taps/2⌋ − 1, as nnAudio's `r_[-l // 2 : l // 2]`
        t = np.arange(-((taps + 1) // 2), -((taps + 1) // 2) + taps)
        sig = window * np.exp(t * 1j * 2 * np.pi * freqs[k] / sample_rate) / taps
        kernels[k, start : start + taps] = sig / np.linalg.norm(sig, 1)
    return kernels, lengths


class HarmonicCqt(nn.Module):
    """One time-domain CQT per harmonic; `(b, n)` → complex-magnitude `(b, frames, h, bins)`."""

    def __init__(self, params: PestoParams) -> None:
        super().__init__()
        self.hop = params.frame_hop
        self.n_bins = params.n_bins
        self.widths: list[int] = []
        for i, h in enumerate(params.harmonics):
            kernels, lengths = cqt_kernels(
                params.sample_rate,
                h * params.lowest_bin(),
                params.n_bins,
                12 * params.bins_per_semitone,
                params.gamma,
            )
            k = torch.from_numpy(kernels).unsqueeze(1)
            weight = torch.cat((k.real, -k.imag), dim=0)
            self.register_buffer(f"weight_{i}", weight.contiguous(), persistent=False)
            scale = torch.tensor(lengths).float().sqrt_().unsqueeze_(-1)
            self.register_buffer(f"scale_{i}", scale, persistent=False)
            self.widths.append(kernels.shape[1])

    def forward(self, audio: Tensor) -> Tensor:
        x = audio.unsqueeze(1)
        outs = []
        for i, width in enumerate(self.widths):
            weight: Tensor = getattr(self, f"weight_{i}")
            scale: Tensor = getattr(self, f"scale_{i}")
            padded = F.pad(x, (width // 2, width // 2), mode="reflect")
            cqt = F.conv1d(padded, weight, stride=self.hop)
            cqt = cqt.view(x.size(0), 2, self.n_bins, -1) * scale
            outs.append(cqt.permute(0, 2, 3, 1))  # (b, bins, frames, 2)
        stacked = torch.stack(outs, dim=1)  # (b, h, bins, frames, 2)
        return torch.view_as_complex(stacked.contiguous()).permute(0, 3, 1, 2).abs()


def _activation(params: PestoParams) -> nn.Module:
    if params.activation_fn == "relu":
        return nn.ReLU()
    if params.activation_fn == "silu":
        return nn.SiLU()
    return nn.LeakyReLU(negative_slope=params.a_lrelu)


class ToeplitzLinear(nn.Conv1d):
    """A linear map with a Toeplitz matrix: one 1-channel convolution over the flat features."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(1, 1, in_features + out_features - 1, padding=out_features - 1, bias=False)

    def forward(self, input: Tensor) -> Tensor:
        return super().forward(input.unsqueeze(-2)).squeeze(-2)


class Resnet1d(nn.Module):
    """PESTO's frame encoder: `(frames, harmonics, bins)` log-CQT → `(frames, output_dim)`
    softmax."""

    def __init__(self, params: PestoParams) -> None:
        super().__init__()
        n_in = len(params.harmonics)
        ch = params.channels
        pad = params.prefilt_kernel_size // 2
        self.layernorm = nn.LayerNorm([n_in, params.n_bins_in])
        self.conv1 = nn.Sequential(
            nn.Conv1d(n_in, ch[0], params.prefilt_kernel_size, padding=pad),
            _activation(params),
            nn.Identity(),
        )
        self.prefilt_layers = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(ch[0], ch[0], params.prefilt_kernel_size, padding=pad),
                _activation(params),
                nn.Identity(),
            )
            for _ in range(params.n_prefilt_layers - 1)
        )
        self.residual = params.residual
        layers: list[nn.Module] = []
        for i in range(len(params.n_chan_layers) - 1):
            layers += [nn.Conv1d(ch[i], ch[i + 1], 1), _activation(params), nn.Identity()]
        self.conv_layers = nn.Sequential(*layers)
        self.fc = ToeplitzLinear(params.n_bins_in * ch[-1], params.output_dim)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(self.layernorm(x))
        for layer in self.prefilt_layers:
            x = layer(x) + x if self.residual else layer(x)
        x = self.conv_layers(x).flatten(1)
        return torch.softmax(self.fc(x), dim=-1)


class ConfidenceClassifier(nn.Module):
    """PESTO 2's voicing classifier on the (uncropped) CQT power of one harmonic."""

    def __init__(self, n_bins: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 39, stride=3)
        self.linear = nn.Linear((n_bins - 39) // 3 + 2, 1)

    def forward(self, energy: Tensor) -> Tensor:
        geometric = energy.log().mean(dim=-1, keepdim=True).exp()
        arithmetic = energy.mean(dim=-1, keepdim=True).clip(min=1e-8)
        flatness = geometric / arithmetic
        x = F.relu(self.conv(energy.unsqueeze(1)).squeeze(1))
        out: Tensor = torch.sigmoid(self.linear(torch.cat((x, flatness), dim=-1))).squeeze(-1)
        return out


class Pesto(nn.Module):
    """`(b, 1, n)` mono audio at `params.sample_rate` → `{activations, confidence}` per frame."""

    def __init__(self, params: PestoParams) -> None:
        super().__init__()
        if params.confidence_head == "classifier" and len(params.harmonics) != 1:
            raise ValueError("PESTO's voicing classifier reads a one-harmonic CQT")
        self.params = params
        self.hcqt = HarmonicCqt(params)
        self.encoder = Resnet1d(params)
        self.confidence: nn.Module | None = (
            ConfidenceClassifier(params.n_bins) if params.confidence_head == "classifier" else None
        )
        self.register_buffer("shift", torch.zeros((), dtype=torch.float))
        self.eps = torch.finfo(torch.float32).eps

    def forward(self, audio: Tensor) -> dict[str, Tensor]:
        if audio.dim() == 3:
            audio = audio.mean(dim=1)
        batch = audio.size(0)
        magnitude = self.hcqt(audio.float()).flatten(0, 1)  # (b·frames, h, bins)
        db = magnitude.clamp(min=self.eps).log10().mul(20)
        log_power = db.mul(math.log(10) / 10.0)  # PESTO's in-place scaling: ln |cqt|²
        activations = self.encoder(log_power[..., self.params.max_steps : self.params.min_steps])
        activations = activations.view(batch, -1, activations.size(-1))
        shift = self.get_buffer("shift")
        roll = -round(float(shift) * self.params.bins_per_semitone)
        activations = activations.roll(roll, -1)
        if self.confidence is not None:
            energy = log_power.exp().squeeze(1)
            confidence = self.confidence(energy).view(batch, -1)
        else:
            confidence = activations.amax(dim=-1)
        activations_name, confidence_name = self.params.output_names
        return {activations_name: activations, confidence_name: confidence}


def build(params: BaseModel) -> nn.Module:
    """The architecture's `model_factory`."""
    assert isinstance(params, PestoParams)
    return Pesto(params).eval()
