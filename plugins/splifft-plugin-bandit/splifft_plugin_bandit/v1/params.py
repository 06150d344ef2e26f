"""BandIt (v1) hyperparameters (torch-free).

Defaults are MSST's `configs/config_dnr_bandit_bsrnn_multi_mus64.yaml` (the BandIt Plus DnR
model): 64 musical bands, 8 GRU band-sequence modules, complex masks. MSST's `model` keys keep
their names here, except `fs` → `sample_rate` and `stems` → `output_stem_names`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from splifft_core.models import ModelParams
from splifft_core.types import Channels, ChunkSize, Gt0, ModelOutputStemName

BandSpecs = Literal["musical", "mel", "vox7"]
"""How the spectrum is split: `musical` (overlapping bands, equal in octaves), `mel`
(overlapping triangular mel bands), or `vox7` (BSRNN's disjoint "vocals v7" bands, MSST's
`dnr:speech`, `dnr:vox7`, `musdb:vocals`, `musdb:vox7`)."""
RnnType = Literal["GRU", "LSTM", "RNN"]
HiddenActivation = Literal[
    "Tanh", "ReLU", "GELU", "SiLU", "ELU", "LeakyReLU", "PReLU", "Sigmoid", "Softplus", "Mish"
]
"""`torch.nn` activations accepted for the mask MLP's hidden layer."""
WindowFn = Literal["hann_window", "hamming_window", "blackman_window", "bartlett_window"]


class BanditParams(ModelParams):
    """BandIt: a shared band-split encoder and band-sequence RNN, one mask decoder per stem.

    Channels are separated independently (each is one batch item of the network).
    """

    chunk_size: ChunkSize = 264600
    """Samples per chunk; MSST's `audio.chunk_size` (6 s at 44.1 kHz)."""
    output_stem_names: tuple[ModelOutputStemName, ...] = Field(
        default=("speech", "music", "effects"), min_length=1
    )
    """MSST's `model.stems`: one mask decoder each, in output order."""
    audio_channels: Channels = 2
    band_specs: BandSpecs = "musical"
    n_bands: Gt0 = 64
    """Bands of the `musical` and `mel` splits (a band without any bin is dropped)."""
    n_sqm_modules: Gt0 = 8
    """Band-sequence modules, each an RNN across time then one across bands."""
    emb_dim: Gt0 = 128
    rnn_dim: Gt0 = 256
    bidirectional: bool = True
    rnn_type: RnnType = "GRU"
    mlp_dim: Gt0 = 512
    hidden_activation: HiddenActivation = "Tanh"
    hidden_activation_kwargs: dict[str, Any] | None = None
    complex_mask: bool = True
    use_freq_weights: bool = True
    """Weigh overlapping bands' masks by each bin's share (their sum is one)."""
    n_fft: Gt0 = 2048
    win_length: Gt0 | None = 2048
    hop_length: Gt0 = 512
    window_fn: WindowFn = "hann_window"
    center: bool = True
    normalized: bool = True
    """Scale the STFT by the window's L2 norm (torchaudio's `normalized=True`)."""
    pad_mode: Literal["constant", "reflect", "replicate", "circular"] = "constant"

    @property
    def window_length(self) -> int:
        return self.n_fft if self.win_length is None else self.win_length

    @property
    def n_freq(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def overlapping_bands(self) -> bool:
        """Musical and mel bands overlap (masks are summed with weights); vox7 bands do not."""
        return self.band_specs != "vox7"

    @model_validator(mode="after")
    def _check(self) -> BanditParams:
        if self.window_length > self.n_fft:
            raise ValueError(f"win_length={self.window_length} exceeds n_fft={self.n_fft}")
        if len(set(self.output_stem_names)) != len(self.output_stem_names):
            raise ValueError(f"output_stem_names repeat a stem: {list(self.output_stem_names)}")
        if self.band_specs == "vox7" and self.sample_rate / 2 <= 20000:
            raise ValueError(
                f"vox7 bands reach 20 kHz; sample_rate={self.sample_rate} has no such bins"
            )
        if self.band_specs != "vox7" and self.n_bands > self.n_freq:
            raise ValueError(f"n_bands={self.n_bands} exceeds the {self.n_freq} frequency bins")
        return self
