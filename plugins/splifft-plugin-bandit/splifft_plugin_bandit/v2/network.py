"""BandIt v2's network: musical band split, residual RNNs across time and bands, per-stem masks.

The module tree (parameter and buffer names, including the mask heads' `combined` alias of
`norm`/`hidden`/`output` and the `freq_weights/{band}` buffers) is the reference's, as in
kwatcharasupat/bandit-v2 and MSST's `models/bandit_v2`, so their state dicts load with
`strict=True`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from splifft_plugin_bandit.v2.params import BanditV2Params


class Spectrogram(nn.Module):
    """Complex STFT as torchaudio's `Spectrogram(power=None)`: periodic Hann window."""

    window: Tensor

    def __init__(self, params: BanditV2Params) -> None:
        super().__init__()
        self.n_fft = params.n_fft
        self.hop_length = params.hop_length
        self.win_length = params.win_length or params.n_fft
        self.normalized = params.normalized
        self.center = params.center
        self.pad_mode = params.pad_mode
        self.register_buffer("window", torch.hann_window(self.win_length))

    def forward(self, x: Tensor) -> Tensor:
        """`(batch, samples)` → `(batch, freqs, frames)`."""
        spec = torch.stft(
            x,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.window,
            center=self.center,
            pad_mode=self.pad_mode,
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        if self.normalized:
            spec = spec / self.window.pow(2.0).sum().sqrt()
        return spec


class InverseSpectrogram(Spectrogram):
    """torchaudio's `InverseSpectrogram`, the inverse of `Spectrogram`."""

    def forward(self, spec: Tensor, length: int | None = None) -> Tensor:
        """`(batch, freqs, frames)` → `(batch, length)`."""
        if self.normalized:
            spec = spec * self.window.pow(2.0).sum().sqrt()
        return torch.istft(
            spec,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.window,
            center=self.center,
            normalized=False,
            onesided=True,
            length=length,
        )


class NormFC(nn.Module):
    """One band's embedding: layer norm and a linear map of its real/imaginary bins."""

    def __init__(self, bandwidth: int, emb_dim: int) -> None:
        super().__init__()
        self.combined = nn.Sequential(
            nn.LayerNorm(2 * bandwidth), nn.Linear(2 * bandwidth, emb_dim)
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.combined(x)
        return out


class BandSplit(nn.Module):
    def __init__(self, bands: list[tuple[int, int]], emb_dim: int) -> None:
        super().__init__()
        self.bands = bands
        self.norm_fc_modules = nn.ModuleList(NormFC(end - start, emb_dim) for start, end in bands)

    def forward(self, spec: Tensor) -> Tensor:
        """`(batch, freqs, frames)` complex → `(batch, bands, frames, emb_dim)`."""
        x = torch.view_as_real(spec.transpose(1, 2))  # (batch, frames, freqs, 2)
        batch, frames = x.shape[:2]
        return torch.stack(
            [
                module(x[:, :, start:end].reshape(batch, frames, -1))
                for (start, end), module in zip(self.bands, self.norm_fc_modules, strict=True)
            ],
            dim=1,
        )


class ResidualRNN(nn.Module):
    """Pre-norm RNN along the third axis of `(batch, groups, sequence, emb_dim)`, residual."""

    def __init__(self, params: BanditV2Params) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(params.emb_dim)
        rnn_class = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}[params.rnn_type]
        self.rnn = rnn_class(
            input_size=params.emb_dim,
            hidden_size=params.rnn_dim,
            num_layers=1,
            batch_first=True,
            bidirectional=params.bidirectional,
        )
        directions = 2 if params.bidirectional else 1
        self.fc = nn.Linear(directions * params.rnn_dim, params.emb_dim)

    def forward(self, z: Tensor) -> Tensor:
        batch, groups, length, dim = z.shape
        y = self.rnn(self.norm(z).reshape(batch * groups, length, dim))[0]
        out: Tensor = z + self.fc(y.reshape(batch, groups, length, -1))
        return out


class Transpose(nn.Module):
    """Swap the band and time axes (no weights; it keeps the reference's layer indices)."""

    def forward(self, z: Tensor) -> Tensor:
        return z.transpose(1, 2)


class SeqBandModelling(nn.Module):
    def __init__(self, params: BanditV2Params) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(2 * params.n_sqm_modules):
            layers += [ResidualRNN(params), Transpose()]
        self.seqband = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """`(batch, bands, frames, emb_dim)`: an even number of transposes keeps the layout."""
        out: Tensor = self.seqband(z)
        return out


class NormMLP(nn.Module):
    """One band's mask head: layer norm, hidden layer, GLU output of the band's (complex) bins."""

    def __init__(self, bandwidth: int, params: BanditV2Params) -> None:
        super().__init__()
        self.bandwidth = bandwidth
        self.complex_mask = params.complex_mask
        reim = 2 if params.complex_mask else 1
        self.norm = nn.LayerNorm(params.emb_dim)
        activation: nn.Module = getattr(nn, params.hidden_activation)()
        self.hidden = nn.Sequential(nn.Linear(params.emb_dim, params.mlp_dim), activation)
        self.output = nn.Sequential(nn.Linear(params.mlp_dim, 2 * reim * bandwidth), nn.GLU(dim=-1))
        # The reference registers the same three modules again under `combined`; its state
        # dicts hold both names.
        self.combined = nn.Sequential(self.norm, self.hidden, self.output)

    def forward(self, q: Tensor) -> Tensor:
        """`(batch, frames, emb_dim)` → `(batch, bandwidth, frames)` mask."""
        m: Tensor = self.combined(q)
        batch, frames = m.shape[:2]
        if self.complex_mask:
            m = torch.view_as_complex(m.reshape(batch, frames, self.bandwidth, 2).contiguous())
        return m.transpose(1, 2)


class MaskEstimation(nn.Module):
    """Masks of one stem: per-band heads overlap-added (weighted) onto the full spectrum."""

    def __init__(self, params: BanditV2Params) -> None:
        super().__init__()
        self.bands = params.band_specs
        self.n_freq = params.n_fft // 2 + 1
        self.norm_mlp = nn.ModuleList(NormMLP(end - start, params) for start, end in self.bands)
        self.use_freq_weights = params.use_freq_weights
        if params.use_freq_weights:
            for i, weights in enumerate(params.freq_weights):
                self.register_buffer(f"freq_weights/{i}", torch.tensor(weights))

    def forward(self, q: Tensor) -> Tensor:
        """`(batch, bands, frames, emb_dim)` → `(batch, freqs, frames)` complex mask."""
        batch, _, frames, _ = q.shape
        mask = torch.zeros(batch, self.n_freq, frames, dtype=torch.complex64, device=q.device)
        for i, ((start, end), head) in enumerate(zip(self.bands, self.norm_mlp, strict=True)):
            band = head(q[:, i])
            if self.use_freq_weights:
                band = band * self.get_buffer(f"freq_weights/{i}")[:, None]
            mask[:, start:end] += band
        return mask


class BanditV2(nn.Module):
    """`(batch, channels, samples)` → `(batch, stems, channels, samples)`."""

    def __init__(self, params: BanditV2Params) -> None:
        super().__init__()
        self.stems = params.output_stem_names
        self.stft = Spectrogram(params)
        self.istft = InverseSpectrogram(params)
        self.band_split = BandSplit(params.band_specs, params.emb_dim)
        self.tf_model = SeqBandModelling(params)
        self.mask_estim = nn.ModuleDict({stem: MaskEstimation(params) for stem in self.stems})

    def forward(self, mixture: Tensor) -> Tensor:
        batch, channels, samples = mixture.shape
        spec = self.stft(mixture.reshape(batch * channels, samples))
        q = self.tf_model(self.band_split(spec))
        stems = [
            self.istft(spec * self.mask_estim[stem](q), samples).reshape(batch, channels, samples)
            for stem in self.stems
        ]
        return torch.stack(stems, dim=1)


def build(params: BanditV2Params) -> BanditV2:
    return BanditV2(params)


def select_stems(
    network: nn.Module, params: BanditV2Params, stems: tuple[str, ...]
) -> tuple[nn.Module, tuple[str, ...]]:
    """Keep only the mask heads of `stems` (in the order asked): each stem has its own."""
    if not isinstance(network, BanditV2):
        raise TypeError(f"expected a BanditV2 network, got {type(network).__name__}")
    unknown = [s for s in stems if s not in network.stems]
    if unknown:
        raise ValueError(f"unknown stems {unknown}; this model outputs {list(network.stems)}")
    for stem in network.stems:
        if stem not in stems:
            del network.mask_estim[stem]
    network.stems = tuple(stems)
    return network, tuple(stems)
