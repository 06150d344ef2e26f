"""The log-mel front end of Beat This! (`beat_this.preprocessing.LogMelSpect`), without torchaudio.

`LogMelSpect` is torchaudio's `MelSpectrogram(sample_rate=22050, n_fft=1024, hop_length=441,
f_min=30, f_max=11000, n_mels=128, mel_scale="slaney", normalized="frame_length", power=1)`
followed by `log1p(1000 * mel)`: a periodic Hann window of `n_fft`, `torch.stft(normalized=True)`
(a factor `n_fft ** -0.5`), the magnitude, and torchaudio's `melscale_fbanks` (triangles between
mel-spaced points, no area normalisation: `norm=None`), written out here after its formula.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from splifft_plugin_beat_this.params import BeatThisParams


def hz_to_mel(freq: float, mel_scale: str) -> float:
    """torchaudio's `_hz_to_mel`: HTK's `2595 log10(1 + f/700)` or Slaney's linear-then-log."""
    if mel_scale == "htk":
        return 2595.0 * math.log10(1.0 + freq / 700.0)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    if freq >= min_log_hz:
        return min_log_mel + math.log(freq / min_log_hz) / logstep
    return freq / f_sp


def mel_to_hz(mels: Tensor, mel_scale: str) -> Tensor:
    """torchaudio's `_mel_to_hz`, elementwise."""
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    linear = f_sp * mels
    logarithmic = min_log_hz * torch.exp(logstep * (mels - min_log_mel))
    return torch.where(mels >= min_log_mel, logarithmic, linear)


def mel_filterbank(
    n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int, mel_scale: str
) -> Tensor:
    """`(n_freqs, n_mels)` triangular filters, float32, as torchaudio's `melscale_fbanks` with
    `norm=None` builds them (its bin frequencies run up to `sample_rate // 2`)."""
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    m_pts = torch.linspace(hz_to_mel(f_min, mel_scale), hz_to_mel(f_max, mel_scale), n_mels + 2)
    f_pts = mel_to_hz(m_pts, mel_scale)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0)


class LogMelSpect(nn.Module):
    """Audio `(batch, samples)` → features `(batch, frames, spect_dim)`.

    `center=False` (the default here) frames the input as it is: frame `j` covers samples
    `[j * hop, j * hop + n_fft)`, the chunked network's framing. `center=True` is the reference's
    whole-track framing (reflect padding of `n_fft // 2` at both ends), for comparisons.
    """

    window: Tensor
    filterbank: Tensor

    def __init__(self, params: BeatThisParams) -> None:
        super().__init__()
        self.n_fft = params.n_fft
        self.hop = params.frame_hop
        self.log_multiplier = params.log_multiplier
        window = torch.hann_window(params.n_fft, periodic=True)
        fb = mel_filterbank(
            params.n_fft // 2 + 1,
            params.f_min,
            params.f_max,
            params.spect_dim,
            params.sample_rate,
            params.mel_scale,
        )
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("filterbank", fb, persistent=False)

    def forward(self, audio: Tensor, center: bool = False) -> Tensor:
        spec = torch.stft(
            audio,
            n_fft=self.n_fft,
            hop_length=self.hop,
            window=self.window.to(audio.dtype),
            center=center,
            pad_mode="reflect",
            normalized=True,
            onesided=True,
            return_complex=True,
        ).abs()
        mel = torch.matmul(spec.transpose(-1, -2), self.filterbank.to(spec.dtype))
        return torch.log1p(self.log_multiplier * mel)
