"""Inference settings for one run: the manifest's defaults merged with the user's overrides."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from splifft_core.manifest import DerivedStem, InferenceDefaults
from splifft_core.types import ChunkLayout, OverlapRatio, PaddingMode, WindowShape

DEFAULT_FILENAME = "{track}/{stem}.{ext}"
"""Output path template; fields: `track`, `stem`, `ext`, `model`."""

Precision = Literal["float32", "bfloat16", "float16"]
"""`bfloat16` / `float16` run the model under `torch.autocast`; stitching stays float32."""


class InferenceConfig(BaseModel):
    """Everything the engine needs besides the model."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    chunk_size: int | None = Field(default=None, gt=0)
    overlap_ratio: OverlapRatio = 0.5
    batch_size: int = Field(default=1, gt=0)
    window_shape: WindowShape = "hann"
    fade_size: int | None = Field(default=None, ge=0)
    padding_mode: PaddingMode = "reflect"
    edge_padding: int | None = Field(default=None, ge=0)
    normalize: bool = False
    hop_size_override: int | None = Field(default=None, gt=0, alias="hop_size")
    """An exact hop size (e.g. MSST's `chunk_size // num_overlap`); wins over `overlap_ratio`."""
    chunk_layout: ChunkLayout = "splifft"
    window_power: float = Field(default=1.0, gt=0)
    """The window is raised to this power (demucs' `transition_power`)."""
    shifts: int = Field(default=0, ge=0)
    """Random time shifts averaged (demucs' `--shifts`); 0 or 1 without shift_offsets: none."""
    shift_offsets: tuple[int, ...] | None = None
    """Exact shift offsets in samples (each in `[0, max_shift]`); overrides `shifts` and the seed."""
    shift_seed: int | None = None
    max_shift: float = Field(default=0.5, ge=0)
    """The largest shift, in seconds."""
    precision: Precision = "float32"
    derived_stems: dict[str, DerivedStem] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> InferenceConfig:
        if (
            self.chunk_size is not None
            and self.fade_size is not None
            and 2 * self.fade_size > self.chunk_size
        ):
            raise ValueError("fade_size must be at most half the chunk size")
        return self

    @classmethod
    def from_defaults(
        cls, defaults: InferenceDefaults, derived_stems: dict[str, DerivedStem] | None = None
    ) -> InferenceConfig:
        return cls(**defaults.model_dump(), derived_stems=derived_stems or {})

    def hop_size(self, chunk_size: int) -> int:
        """The explicit hop size, else `⌊chunk_size · (1 - overlap_ratio)⌋`, at least one sample."""
        if self.hop_size_override is not None:
            return min(self.hop_size_override, chunk_size)
        return max(1, int(chunk_size * (1.0 - self.overlap_ratio) + 1e-9))
