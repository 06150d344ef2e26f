"""Inference settings for one run: the manifest's defaults merged with the user's overrides."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from splifft_core.manifest import DerivedStem, InferenceDefaults

DEFAULT_FILENAME = "{track}/{stem}.{ext}"
"""Output path template; fields: `track`, `stem`, `ext` (the output format), `input_ext` (the
input file's extension, without the dot) and `model`."""

MAX_OVERLAP_RATIO = 0.99
"""The largest `overlap_ratio` a run takes: the hop is then 1 % of the chunk, so every sample
already goes through the model 100 times; more overlap gives no audible gain and, at the limit
(`0.999999` → a 1-sample hop), a run that never ends."""

Precision = Literal["float32", "bfloat16", "float16"]
"""`bfloat16` / `float16` run the model under `torch.autocast`; stitching stays float32."""


class InferenceConfig(InferenceDefaults):
    """Everything the engine needs besides the model: a manifest's `InferenceDefaults` (with the
    run's overrides) plus the settings no manifest carries."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    shift_offsets: tuple[int, ...] | None = None
    """Exact shift offsets in samples (each in `[0, max_shift]`); overrides `shifts` and the seed."""
    shift_seed: int | None = None
    max_shift: float = Field(default=0.5, ge=0)
    """The largest shift, in seconds."""
    precision: Precision = "float32"
    tta: bool = False
    """Test-time augmentation as MSST's `--use_tta`: the mean of the model on the mixture, on it
    with its channels swapped (swapped back) and on it polarity-inverted (inverted back)."""
    derived_stems: dict[str, DerivedStem] = Field(default_factory=dict)

    @field_validator("overlap_ratio", mode="before")
    @classmethod
    def _bounded_overlap(cls, value: Any) -> Any:
        """A finite number in `[0, MAX_OVERLAP_RATIO]` (NaN fails every comparison, so say so)."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not (0.0 <= number <= MAX_OVERLAP_RATIO):
            raise PydanticCustomError(
                "overlap_ratio",
                "must be a number in [0, {limit}], got {value} ({limit}: a hop of 1 % of the "
                "chunk, every sample through the model 100 times)",
                {"limit": MAX_OVERLAP_RATIO, "value": repr(value)},
            )
        return value

    def min_hop_size(self, chunk_size: int) -> int:
        """The smallest hop a run takes: the hop of `MAX_OVERLAP_RATIO` (1 % of the chunk)."""
        return max(1, int(chunk_size * (1.0 - MAX_OVERLAP_RATIO) + 1e-9))

    def hop_size(self, chunk_size: int) -> int:
        """The explicit hop size, else `⌊chunk_size · (1 - overlap_ratio)⌋`, at least one sample."""
        if self.hop_size_override is not None:
            return min(self.hop_size_override, chunk_size)
        return max(1, int(chunk_size * (1.0 - self.overlap_ratio) + 1e-9))
