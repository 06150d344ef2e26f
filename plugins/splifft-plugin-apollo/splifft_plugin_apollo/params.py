"""Apollo hyperparameters (torch-free).

Defaults are Apollo's published model (JusperLee/Apollo, and Music-Source-Separation-Training's,
MSST, `configs/config_apollo.yaml`); MSST's `model` keys map as `sr` → `sample_rate`,
`win` → `win_ms`, `feature_dim` → `feature_dim`, `layer` → `layers`.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from splifft_core.models import ModelParams
from splifft_core.types import Channels, ChunkSize, Gt0, ModelOutputStemName

NUM_BANDS = 80
"""Apollo splits the spectrum into 79 bands of `win // 160` bins and one with the rest."""
NUM_HEADS = 8
"""Attention heads of the band transformer (fixed in Apollo)."""
ROPE_WINDOW = 100
"""Positions of the band transformer's precomputed rotary tables (fixed in Apollo)."""


class ApolloParams(ModelParams):
    """Apollo: a restoration network with its own STFT; channels are restored independently."""

    chunk_size: ChunkSize = 132300
    """Samples per chunk; MSST's `audio.chunk_size` (3 s at 44.1 kHz)."""
    output_stem_names: tuple[ModelOutputStemName, ...] = Field(
        default=("restored",), min_length=1, max_length=1
    )
    """Apollo outputs one stem, the restored audio."""
    audio_channels: Channels = 2
    """Any channel count works (each channel is one batch item of the network)."""
    win_ms: Gt0 = 20
    """STFT window in milliseconds (MSST's `win`): `int(sample_rate * win_ms // 1000)` samples,
    a periodic Hann window, hop half of it."""
    feature_dim: Gt0 = 256
    """Channels of each band's feature."""
    layers: Gt0 = 6
    """Band-sequence blocks (MSST's `layer`)."""

    @property
    def win_length(self) -> int:
        """The STFT's window (and FFT) size in samples."""
        return int(self.sample_rate * self.win_ms // 1000)

    @property
    def hop_length(self) -> int:
        return self.win_length // 2

    @property
    def band_widths(self) -> tuple[int, ...]:
        """Frequency bins of each of the 80 bands."""
        bins = self.win_length // 2 + 1
        width = self.win_length // 160
        return (width,) * (NUM_BANDS - 1) + (bins - width * (NUM_BANDS - 1),)

    @model_validator(mode="after")
    def _check(self) -> ApolloParams:
        if self.win_length < 160:
            raise ValueError(
                f"the STFT window of {self.win_ms} ms at {self.sample_rate} Hz has "
                f"{self.win_length} samples; Apollo's 80 bands need at least 160"
            )
        if self.chunk_size <= self.win_length // 2:
            raise ValueError(
                f"chunk_size={self.chunk_size} must exceed half the STFT window "
                f"({self.win_length // 2} samples) for its reflect padding"
            )
        head_dim = self.feature_dim // NUM_HEADS
        if head_dim < 2 or head_dim % 2:
            raise ValueError(
                f"feature_dim={self.feature_dim}: its {NUM_HEADS} attention heads need an even "
                "size of at least 2 (rotary embeddings rotate pairs)"
            )
        return self
