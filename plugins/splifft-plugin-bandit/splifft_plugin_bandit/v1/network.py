"""BandIt v1 (Watcharasupat et al. 2023), the network MSST builds for `model_type: bandit`.

MSST's `MultiMaskMultiSourceBandSplitRNNSimple`: an STFT, one shared band-split encoder and
band-sequence RNN over every channel (as a batch item), then a mask decoder per stem whose
masks multiply the mixture's spectrogram. Module and buffer names follow MSST's, so its state
dicts (with the STFT windows and the bands' frequency weights) load strictly.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch import Tensor, nn

from splifft_plugin_bandit.v1.params import BanditParams

BandSpec = tuple[int, int]
"""`[start, end)` frequency bins of one band."""


def _hz_to_index(hz: float, n_fft: int, sample_rate: int) -> int:
    # numpy's round: half to even, as Python's.
    return round(hz * n_fft / sample_rate)


def vox7_band_specs(n_fft: int, sample_rate: int) -> list[BandSpec]:
    """BSRNN's "vocals v7" split: 100 Hz bands to 1 kHz, 250 Hz to 4 kHz, 500 Hz to 8 kHz,
    1 kHz to 16 kHz, 2 kHz to 20 kHz, and one band above."""
    edges = [0, 1000, 4000, 8000, 16000, 20000]
    widths = [100, 250, 500, 1000, 2000]
    specs: list[BandSpec] = []
    for (lo_hz, hi_hz), width in zip(itertools.pairwise(edges), widths, strict=True):
        lower = _hz_to_index(lo_hz, n_fft, sample_rate)
        end = _hz_to_index(hi_hz, n_fft, sample_rate)
        step = _hz_to_index(width, n_fft, sample_rate)
        while lower < end:
            upper = min(lower + step, end)
            specs.append((lower, upper))
            lower = upper
    specs.append((_hz_to_index(20000, n_fft, sample_rate), n_fft // 2 + 1))
    return specs


def musical_filterbank(n_bands: int, sample_rate: int, n_freq: int) -> Tensor:
    """Bands equally spaced in pitch from one bin to Nyquist, each spanning `2 ** (octaves /
    n_bands)` either side of its centre; the first and last reach the spectrum's ends."""
    n_fft = 2 * (n_freq - 1)
    df = sample_rate / n_fft
    f_min, f_max = sample_rate / n_fft, sample_rate / 2
    bandwidth_mult = 2.0 ** (math.log2(f_max / f_min) / n_bands)

    def midi(f: float) -> float:
        return 12 * (math.log2(f) - math.log2(440.0)) + 69

    low_midi, high_midi = max(0.0, midi(f_min)), midi(f_max)
    step = (high_midi - low_midi) / (n_bands - 1) if n_bands > 1 else 0.0
    points = [low_midi + i * step for i in range(n_bands)]
    points[-1] = high_midi
    fb = torch.zeros(n_bands, n_freq, dtype=torch.float64, device="cpu")
    low_bins, high_bins = [], []
    for i, point in enumerate(points):
        hz = 440.0 * 2.0 ** ((point - 69.0) / 12.0)
        low = math.floor(hz / bandwidth_mult / df)
        high = math.ceil(hz * bandwidth_mult / df)
        low_bins.append(low)
        high_bins.append(high)
        fb[i, max(low, 0) : high + 1] = 1.0
    fb[0, : max(low_bins[0], 0)] = 1.0
    fb[-1, high_bins[-1] + 1 :] = 1.0
    return fb


def mel_filterbank(n_bands: int, sample_rate: int, n_freq: int) -> Tensor:
    """Triangular HTK-mel filters from 0 Hz to Nyquist (torchaudio's `melscale_fbanks`, no
    norm), the first bin given wholly to the first band."""
    all_freqs = torch.linspace(0, sample_rate // 2, n_freq, device="cpu")
    m_max = 2595.0 * math.log10(1.0 + (sample_rate / 2) / 700.0)
    m_pts = torch.linspace(0.0, m_max, n_bands + 2, device="cpu")
    f_pts = 700.0 * (10.0 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = torch.clamp(torch.min(down, up), min=0.0).T.contiguous()
    fb[0, 0] = 1.0
    return fb


def band_specs_and_weights(params: BanditParams) -> tuple[list[BandSpec], list[Tensor] | None]:
    """The bands and, for overlapping splits, each band's per-bin weights (a bin's sum to one).

    Computed on the CPU (also when a network is built on the meta device): the bands are data.
    """
    if params.band_specs == "vox7":
        return vox7_band_specs(params.n_fft, params.sample_rate), None
    make = musical_filterbank if params.band_specs == "musical" else mel_filterbank
    fb = make(params.n_bands, params.sample_rate, params.n_freq)
    normalized = fb / fb.sum(dim=0, keepdim=True)
    specs: list[BandSpec] = []
    weights: list[Tensor] = []
    for i in range(fb.shape[0]):
        active = torch.nonzero(fb[i]).flatten()
        if active.numel() == 0:
            continue  # an empty band is dropped, as in BandIt
        start, end = int(active[0]), int(active[-1]) + 1
        specs.append((start, end))
        weights.append(normalized[i, start:end].clone())
    return specs, weights


class Stft(nn.Module):
    """torchaudio's `Spectrogram(power=None)` / `InverseSpectrogram`: torch's STFT, optionally
    scaled by the window's L2 norm; `window` is a (checkpointed) buffer as there."""

    window: Tensor

    def __init__(self, params: BanditParams) -> None:
        super().__init__()
        window_fn = getattr(torch, params.window_fn)
        self.register_buffer("window", window_fn(params.window_length))
        self.n_fft = params.n_fft
        self.hop_length = params.hop_length
        self.win_length = params.window_length
        self.center = params.center
        self.pad_mode = params.pad_mode
        self.normalized = params.normalized

    def scale(self) -> Tensor:
        return self.window.pow(2.0).sum().sqrt()

    def forward(self, audio: Tensor) -> Tensor:
        shape = audio.shape
        spec = torch.stft(
            audio.reshape(-1, shape[-1]),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=self.center,
            pad_mode=self.pad_mode,
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        if self.normalized:
            spec = spec / self.scale()
        return spec.reshape(*shape[:-1], *spec.shape[-2:])

    def inverse(self, spec: Tensor, length: int) -> Tensor:
        if self.normalized:
            spec = spec * self.scale()
        shape = spec.shape
        audio = torch.istft(
            spec.reshape(-1, *shape[-2:]),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=self.center,
            normalized=False,
            onesided=True,
            length=length,
        )
        return audio.reshape(*shape[:-2], audio.shape[-1])


class NormFC(nn.Module):
    """One band's encoder: LayerNorm and a linear layer over its real and imaginary bins."""

    def __init__(self, bandwidth: int, emb_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(2 * bandwidth)
        self.fc = nn.Linear(2 * bandwidth, emb_dim)

    def forward(self, xb: Tensor) -> Tensor:
        zb: Tensor = self.fc(self.norm(xb))
        return zb


class BandSplit(nn.Module):
    def __init__(self, band_specs: list[BandSpec], emb_dim: int) -> None:
        super().__init__()
        self.band_specs = band_specs
        self.norm_fc_modules = nn.ModuleList(
            NormFC(end - start, emb_dim) for start, end in band_specs
        )

    def forward(self, x: Tensor) -> Tensor:
        # x: (batch, n_freq, n_time) complex -> (batch, n_bands, n_time, emb_dim)
        xr = torch.view_as_real(x).permute(0, 2, 3, 1)  # (batch, n_time, re/im, n_freq)
        batch, n_time = xr.shape[:2]
        bands = [
            nfm(xr[..., start:end].reshape(batch, n_time, -1))
            for nfm, (start, end) in zip(self.norm_fc_modules, self.band_specs, strict=True)
        ]
        return torch.stack(bands, dim=1)


class ResidualRNN(nn.Module):
    """LayerNorm, an RNN along the third axis, a projection back, and a residual."""

    def __init__(self, emb_dim: int, rnn_dim: int, bidirectional: bool, rnn_type: str) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(emb_dim)
        rnn_cls: Any = getattr(nn, rnn_type)
        self.rnn = rnn_cls(
            input_size=emb_dim,
            hidden_size=rnn_dim,
            num_layers=1,
            batch_first=True,
            bidirectional=bidirectional,
        )
        self.fc = nn.Linear(rnn_dim * (2 if bidirectional else 1), emb_dim)

    def forward(self, z: Tensor) -> Tensor:
        batch, n_outer, n_across, emb_dim = z.shape
        y = self.norm(z).reshape(batch * n_outer, n_across, emb_dim)
        y = self.rnn(y)[0].reshape(batch, n_outer, n_across, -1)
        out: Tensor = z + self.fc(y)
        return out


class SeqBandModelling(nn.Module):
    """`2 * n_sqm_modules` residual RNNs, alternately across time and across bands."""

    def __init__(self, params: BanditParams) -> None:
        super().__init__()
        self.seqband = nn.ModuleList(
            ResidualRNN(params.emb_dim, params.rnn_dim, params.bidirectional, params.rnn_type)
            for _ in range(2 * params.n_sqm_modules)
        )

    def forward(self, z: Tensor) -> Tensor:
        for module in self.seqband:
            z = module(z).transpose(1, 2)
        return z


class NormMLP(nn.Module):
    """One band's mask decoder: LayerNorm, an MLP and a GLU to `bandwidth` (complex) values."""

    def __init__(self, params: BanditParams, emb_dim: int, bandwidth: int) -> None:
        super().__init__()
        self.bandwidth = bandwidth
        self.complex_mask = params.complex_mask
        reim = 2 if params.complex_mask else 1
        activation = getattr(nn, params.hidden_activation)(
            **(params.hidden_activation_kwargs or {})
        )
        self.norm = nn.LayerNorm(emb_dim)
        self.hidden = nn.Sequential(nn.Linear(emb_dim, params.mlp_dim), activation)
        self.output = nn.Sequential(nn.Linear(params.mlp_dim, bandwidth * reim * 2), nn.GLU(-1))

    def forward(self, qb: Tensor) -> Tensor:
        # qb: (batch, n_time, emb_dim) -> (batch, bandwidth, n_time)
        mb: Tensor = self.output(self.hidden(self.norm(qb)))
        batch, n_time, _ = mb.shape
        if self.complex_mask:
            mb = torch.view_as_complex(mb.reshape(batch, n_time, self.bandwidth, 2).contiguous())
        return mb.transpose(1, 2)


class MaskEstimation(nn.Module):
    """One stem's decoder: a mask per band, placed (weighted and summed where bands overlap)."""

    def __init__(
        self, params: BanditParams, band_specs: list[BandSpec], weights: list[Tensor] | None
    ) -> None:
        super().__init__()
        self.band_specs = band_specs
        self.n_freq = params.n_freq
        self.overlapping = weights is not None
        self.norm_mlp = nn.ModuleList(
            NormMLP(params, params.emb_dim, end - start) for start, end in band_specs
        )
        self.use_freq_weights = weights is not None and params.use_freq_weights
        for i, fw in enumerate(weights or []):
            self.register_buffer(f"freq_weights/{i}", fw.float())

    def forward(self, q: Tensor) -> Tensor:
        # q: (batch, n_bands, n_time, emb_dim) -> (batch, n_freq, n_time)
        masks: list[Tensor] = [nmlp(q[:, b]) for b, nmlp in enumerate(self.norm_mlp)]
        if not self.overlapping:
            return torch.cat(masks, dim=1)
        batch, _, n_time = masks[0].shape
        out = masks[0].new_zeros(batch, self.n_freq, n_time)
        for i, (mask, (start, end)) in enumerate(zip(masks, self.band_specs, strict=True)):
            if self.use_freq_weights:
                mask = mask * self.get_buffer(f"freq_weights/{i}")[:, None]
            out[:, start:end] += mask
        return out


class BanditCore(nn.Module):
    """MSST's `MultiSourceMultiMaskBandSplitCoreRNN` (the `bsrnn` of the checkpoint)."""

    def __init__(self, params: BanditParams) -> None:
        super().__init__()
        band_specs, weights = band_specs_and_weights(params)
        self.band_split = BandSplit(band_specs, params.emb_dim)
        self.tf_model = SeqBandModelling(params)
        self.mask_estim = nn.ModuleDict(
            {stem: MaskEstimation(params, band_specs, weights) for stem in params.output_stem_names}
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        # x: (batch, n_freq, n_time) complex, one channel per batch item
        q = self.tf_model(self.band_split(x))
        return [x * mask_estim(q) for mask_estim in self.mask_estim.values()]


class Bandit(nn.Module):
    """`(batch, channels, samples)` → `(batch, stems, channels, samples)`."""

    def __init__(self, params: BanditParams) -> None:
        super().__init__()
        self.stft = Stft(params)
        self.istft = Stft(params)
        self.bsrnn = BanditCore(params)

    def forward(self, audio: Tensor) -> Tensor:
        batch, channels, length = audio.shape
        x = self.stft(audio)  # (batch, channels, n_freq, n_time)
        spectrograms = self.bsrnn(x.reshape(batch * channels, *x.shape[-2:]))
        stems = [self.istft.inverse(s, length) for s in spectrograms]
        return torch.stack(stems, dim=1).reshape(batch, len(stems), channels, length)


def build(params: BanditParams) -> Bandit:
    return Bandit(params)
