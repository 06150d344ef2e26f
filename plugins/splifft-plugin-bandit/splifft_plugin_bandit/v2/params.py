"""BandIt v2 hyperparameters and its musical band layout (torch-free).

Defaults are the published DnR v3 model (kwatcharasupat/bandit-v2's `bandit-mus64`, as in
Music-Source-Separation-Training's, MSST's, `configs/config_dnr_bandit_v2_mus64.yaml`).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from splifft_core.models import ModelParams
from splifft_core.types import Channels, ChunkSize, Gt0, ModelOutputStemName

RnnType = Literal["LSTM", "GRU", "RNN"]
Activation = Literal["Tanh", "ReLU", "GELU", "SiLU", "ELU", "Sigmoid", "LeakyReLU", "PReLU"]
"""Hidden activations of the mask estimators (`torch.nn` classes built without arguments)."""


def _hz_to_midi(hz: float) -> float:
    return 12.0 * (math.log2(hz) - math.log2(440.0)) + 69.0


def _midi_to_hz(midi: float) -> float:
    return float(440.0 * 2.0 ** ((midi - 69.0) / 12.0))


def musical_bands(n_fft: int, sample_rate: int, n_bands: int) -> list[tuple[int, int]]:
    """BandIt's overlapping "musical" bands as `[start, end)` bins of the one-sided spectrum.

    Band centres are evenly spaced in MIDI pitch from one bin (`fs / n_fft`) to Nyquist, each
    `n_octaves / n_bands` octaves wide either side; the first band reaches down to DC and the
    last up to Nyquist. Bands left without any bin are dropped, as BandIt does.
    """
    n_freqs = n_fft // 2 + 1
    df = sample_rate / n_fft
    f_min, f_max = df, sample_rate / 2
    mult = 2.0 ** (math.log2(f_max / f_min) / n_bands)
    low_midi, high_midi = max(0.0, _hz_to_midi(f_min)), _hz_to_midi(f_max)
    # numpy's linspace: start + i * step, the last point exactly `high_midi`
    step = (high_midi - low_midi) / (n_bands - 1) if n_bands > 1 else 0.0
    midi = [low_midi + i * step for i in range(n_bands)]
    if n_bands > 1:
        midi[-1] = high_midi
    centres = [_midi_to_hz(m) for m in midi]
    lows = [math.floor(c / mult / df) for c in centres]
    highs = [math.ceil(c * mult / df) for c in centres]
    bands = []
    for i, (low, high) in enumerate(zip(lows, highs, strict=True)):
        start = 0 if i == 0 else low
        end = n_freqs if i == n_bands - 1 else min(high + 1, n_freqs)
        if end > start:
            bands.append((start, end))
    return bands


class BanditV2Params(ModelParams):
    """BandIt v2: a mono network (each channel is separated alone) with its own STFT."""

    chunk_size: ChunkSize = 384000
    """Samples per chunk; MSST's `audio.chunk_size` (8 s at 48 kHz)."""
    output_stem_names: tuple[ModelOutputStemName, ...] = Field(
        default=("speech", "music", "sfx"), min_length=1
    )
    """The stems (MSST's `kwargs.stems`), which also name the mask estimators' weights."""
    sample_rate: Gt0 = 48000
    audio_channels: Channels = 2
    """Any channel count works (each channel is one batch item of the network)."""
    n_bands: Gt0 = 64
    """Musical bands asked for (bands left empty on the bin grid are dropped)."""
    n_sqm_modules: Gt0 = 8
    """Pairs of residual RNNs (across time, then across bands)."""
    emb_dim: Gt0 = 128
    rnn_dim: Gt0 = 256
    bidirectional: bool = True
    rnn_type: RnnType = "GRU"
    mlp_dim: Gt0 = 512
    hidden_activation: Activation = "Tanh"
    complex_mask: bool = True
    use_freq_weights: bool = True
    """Scale each band's mask by 1 / (bands covering the bin), so overlaps average."""
    n_fft: Gt0 = 2048
    win_length: Gt0 | None = 2048
    """Periodic Hann window, zero-padded to `n_fft`; `None`: `n_fft`."""
    hop_length: Gt0 = 512
    normalized: bool = True
    """Spectrogram divided by the window's L2 norm (torchaudio's `normalized=True`)."""
    center: bool = True
    pad_mode: Literal["constant", "reflect", "replicate", "circular"] = "reflect"

    @property
    def band_specs(self) -> list[tuple[int, int]]:
        return musical_bands(self.n_fft, self.sample_rate, self.n_bands)

    @property
    def freq_weights(self) -> list[list[float]]:
        """Per band, per bin: one over the number of bands that cover the bin."""
        bands = self.band_specs
        cover = [0] * (self.n_fft // 2 + 1)
        for start, end in bands:
            for k in range(start, end):
                cover[k] += 1
        return [[1.0 / cover[k] for k in range(start, end)] for start, end in bands]

    @model_validator(mode="after")
    def _check(self) -> BanditV2Params:
        if self.n_fft % 2:
            raise ValueError(f"n_fft={self.n_fft} must be even")
        if self.win_length is not None and self.win_length > self.n_fft:
            raise ValueError(f"win_length={self.win_length} exceeds n_fft={self.n_fft}")
        if len(set(self.output_stem_names)) != len(self.output_stem_names):
            raise ValueError(f"output_stem_names repeat a stem: {self.output_stem_names}")
        if any(not s or "." in s for s in self.output_stem_names):
            raise ValueError("a stem name must be non-empty and without '.' (it names weights)")
        if self.n_bands < 2:
            raise ValueError("n_bands must be at least 2")
        bands = self.band_specs
        reached = 0
        for start, end in bands:
            if start > reached:
                raise ValueError(f"the musical bands leave bins {reached}..{start - 1} uncovered")
            reached = max(reached, end)
        if self.center and self.chunk_size <= self.n_fft // 2 and self.pad_mode == "reflect":
            raise ValueError(
                f"chunk_size={self.chunk_size} must exceed n_fft // 2 for reflect padding"
            )
        return self
