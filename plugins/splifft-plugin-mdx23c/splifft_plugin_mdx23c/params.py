"""MDX23C hyperparameters (torch-free).

Names follow Music-Source-Separation-Training's (MSST) `mdx23c` config where they are
unambiguous; `hidden_channels` is MSST's `model.num_channels` and `audio_channels` its
`audio.num_channels`.
"""

from __future__ import annotations

import re

from pydantic import field_validator, model_validator

from splifft_core.models import ModelParams, StftParams
from splifft_core.types import Channels, FftSize, Gt0

NORM_PATTERN = re.compile(r"^(BatchNorm|InstanceNorm|GroupNorm[1-9][0-9]*|none)$")
ACT_PATTERN = re.compile(r"^(gelu|relu|elu[0-9]*\.?[0-9]+)$")


class Mdx23cParams(ModelParams):
    """TFC-TDF-UNet v3 as trained by MSST: STFT → complex-as-channels U-Net → ISTFT.

    `chunk_size` is MSST's `audio.chunk_size` (`hop_length * (dim_t - 1)`).
    """

    audio_channels: Channels = 2
    n_fft: FftSize = 8192
    hop_length: Gt0 = 1024
    dim_f: Gt0 = 4096
    """Lowest STFT bins fed to the network; the bins above are zeroed on the way out."""
    num_subbands: Gt0 = 4
    """The `dim_f` bins are folded into this many sub-bands stacked as channels."""
    num_scales: Gt0 = 5
    scale: tuple[Gt0, Gt0] = (2, 2)
    """Down/up-sampling factor per scale as `(time, frequency)`."""
    num_blocks_per_scale: Gt0 = 2
    hidden_channels: Gt0 = 128
    growth: Gt0 = 128
    """Channels added per scale."""
    bottleneck_factor: Gt0 = 4
    """The TDF linear layer shrinks the frequency axis by this factor."""
    norm: str = "InstanceNorm"
    """`InstanceNorm`, `BatchNorm`, `GroupNorm<groups>` or `none`."""
    act: str = "gelu"
    """`gelu`, `relu` or `elu<alpha>` (e.g. `elu1.0`)."""

    @field_validator("norm")
    @classmethod
    def _known_norm(cls, value: str) -> str:
        if not NORM_PATTERN.match(value):
            raise ValueError(
                f"unknown norm {value!r}: expected InstanceNorm, BatchNorm, GroupNorm<groups> "
                "or none"
            )
        return value

    @field_validator("act")
    @classmethod
    def _known_act(cls, value: str) -> str:
        if not ACT_PATTERN.match(value):
            raise ValueError(f"unknown act {value!r}: expected gelu, relu or elu<alpha>")
        return value

    @model_validator(mode="after")
    def _check_shapes(self) -> Mdx23cParams:
        bins = self.n_fft // 2 + 1
        if self.dim_f > bins:
            raise ValueError(f"dim_f={self.dim_f} exceeds the {bins} bins of n_fft={self.n_fft}")
        if self.dim_f % self.num_subbands:
            raise ValueError(f"dim_f={self.dim_f} is not divisible by num_subbands")
        time_scale, freq_scale = self.scale
        if (self.dim_f // self.num_subbands) % freq_scale**self.num_scales:
            raise ValueError(
                f"dim_f / num_subbands = {self.dim_f // self.num_subbands} must be divisible by "
                f"scale[1] ** num_scales = {freq_scale**self.num_scales}"
            )
        if self.chunk_size % self.hop_length:
            raise ValueError(
                f"chunk_size={self.chunk_size} must be a multiple of hop_length={self.hop_length}"
            )
        if self.frames(self.chunk_size) % time_scale**self.num_scales:
            raise ValueError(
                f"chunk_size={self.chunk_size} gives {self.frames(self.chunk_size)} STFT frames, "
                f"not a multiple of scale[0] ** num_scales = {time_scale**self.num_scales}"
            )
        if (
            self.bottleneck_factor
            > (self.dim_f // self.num_subbands) // freq_scale**self.num_scales
        ):
            raise ValueError("bottleneck_factor leaves no bins at the deepest scale")
        return self

    def frames(self, samples: int) -> int:
        """STFT frames of a centered transform of `samples`."""
        return samples // self.hop_length + 1

    @property
    def stft(self) -> StftParams:
        """The network's STFT: a periodic Hann window of `n_fft`, centred."""
        return StftParams(n_fft=self.n_fft, hop_length=self.hop_length)
