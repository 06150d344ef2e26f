"""Segmentation-model separator hyperparameters (torch-free).

Names follow Music-Source-Separation-Training's (MSST) `segm_models` config; `hidden_channels`
is MSST's `model.num_channels`, `audio_channels` its `audio.num_channels` and `decoder_options`
its `decoder_<type>` section (keyword arguments of the segmentation_models_pytorch decoder).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from splifft_core.models import ModelParams, StftParams
from splifft_core.types import Channels, FftSize, Gt0

ACT_PATTERN = re.compile(r"^(gelu|relu|elu[0-9]*\.?[0-9]+)$")

DecoderType = Literal[
    "unet",
    "fpn",
    "unet++",
    "manet",
    "linknet",
    "pspnet",
    "pan",
    "deeplabv3",
    "deeplabv3plus",
]


class SegmModelsParams(ModelParams):
    """STFT → sub-band complex channels → an image segmentation network (encoder + decoder) →
    ISTFT, as trained by MSST. `chunk_size` is MSST's `audio.chunk_size`.

    The defaults are MSST's `config_vocals_segm_models.yaml` (a MaxViT-large U-Net).
    """

    audio_channels: Channels = 2
    n_fft: FftSize = 8192
    hop_length: Gt0 = 512
    dim_f: Gt0 = 4096
    """Lowest STFT bins fed to the network; the bins above are zeroed on the way out."""
    num_subbands: Gt0 = 8
    """The `dim_f` bins are folded into this many sub-bands stacked as channels."""
    hidden_channels: Gt0 = 128
    """Channels of the 1x1 convolution in front of the segmentation network (its in/out)."""
    encoder_name: str = "tu-maxvit_large_tf_512"
    """A segmentation_models_pytorch encoder; `tu-<name>` is a timm backbone."""
    decoder_type: DecoderType = "unet"
    decoder_options: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of the decoder class (MSST's `decoder_<type>` section)."""
    act: str = "gelu"
    """Activation in the output head: `gelu`, `relu` or `elu<alpha>` (e.g. `elu1.0`)."""

    @field_validator("act")
    @classmethod
    def _known_act(cls, value: str) -> str:
        if not ACT_PATTERN.match(value):
            raise ValueError(f"unknown act {value!r}: expected gelu, relu or elu<alpha>")
        return value

    @field_validator("decoder_options")
    @classmethod
    def _own_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        # These are set by the separator itself; the checkpoint's weights depend on them.
        taken = sorted({"encoder_name", "encoder_weights", "in_channels", "classes"} & set(value))
        if taken:
            raise ValueError(f"decoder_options may not set {taken}")
        return value

    @model_validator(mode="after")
    def _check_shapes(self) -> SegmModelsParams:
        bins = self.n_fft // 2 + 1
        if self.dim_f > bins:
            raise ValueError(f"dim_f={self.dim_f} exceeds the {bins} bins of n_fft={self.n_fft}")
        if self.dim_f % self.num_subbands:
            raise ValueError(f"dim_f={self.dim_f} is not divisible by num_subbands")
        if self.chunk_size % self.hop_length:
            raise ValueError(
                f"chunk_size={self.chunk_size} must be a multiple of hop_length={self.hop_length}"
            )
        return self

    @property
    def stft(self) -> StftParams:
        """The network's STFT: a periodic Hann window of `n_fft`, centred."""
        return StftParams(n_fft=self.n_fft, hop_length=self.hop_length)
