"""HPSS hyperparameters (torch-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from splifft_core.models import StftParams


class HpssParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_rate: int = Field(default=44100, gt=0)
    audio_channels: int = Field(default=2, gt=0)
    chunk_size: int = Field(default=352800, gt=0)
    """Samples per chunk (8 s at 44.1 kHz): the time median needs context."""
    n_fft: int = Field(default=2048, gt=0)
    hop_length: int = Field(default=512, gt=0)
    harmonic_kernel: int = Field(default=31, gt=0)
    """Median length along time, in frames (odd)."""
    percussive_kernel: int = Field(default=31, gt=0)
    """Median length along frequency, in bins (odd)."""
    power: float = Field(default=2.0, gt=0)
    """Exponent of the soft masks; `binary` ignores it."""
    margin: float = Field(default=1.0, ge=1.0)
    mask: Literal["soft", "binary"] = "soft"

    @model_validator(mode="after")
    def _odd_kernels(self) -> HpssParams:
        for name in ("harmonic_kernel", "percussive_kernel"):
            if getattr(self, name) % 2 == 0:
                raise ValueError(f"{name} must be odd")
        return self

    @property
    def output_stem_names(self) -> tuple[str, ...]:
        return ("harmonic", "percussive")

    @property
    def stft(self) -> StftParams:
        return StftParams(n_fft=self.n_fft, hop_length=self.hop_length)
