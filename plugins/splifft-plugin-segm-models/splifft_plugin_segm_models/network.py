"""MSST's segmentation-model separator: an image segmentation network on sub-band spectrograms.

The module tree mirrors Music-Source-Separation-Training's `Segm_Models_Net` so its checkpoints
load with `strict=True`: `first_conv`, `unet_model` (the segmentation_models_pytorch model, any
decoder type) and `final_conv`. The decoder is built with `encoder_weights=None`: every weight
comes from the checkpoint, nothing is downloaded.
"""

from __future__ import annotations

from typing import Any

import segmentation_models_pytorch as smp  # type: ignore[import-untyped,import-not-found,unused-ignore]
import torch
from torch import Tensor, nn

from splifft_core import stft as core_stft
from splifft_core.stem_heads import keep_conv_outputs, stem_rows
from splifft_plugin_segm_models.params import SegmModelsParams

# MSST's `decoder_type` → the segmentation_models_pytorch class it builds.
DECODERS: dict[str, str] = {
    "unet": "Unet",
    "fpn": "FPN",
    "unet++": "UnetPlusPlus",
    "manet": "MAnet",
    "linknet": "Linknet",
    "pspnet": "PSPNet",
    "pan": "PAN",
    "deeplabv3": "DeepLabV3",
    "deeplabv3plus": "DeepLabV3Plus",
}


def activation(act: str) -> nn.Module:
    if act == "gelu":
        return nn.GELU()
    if act == "relu":
        return nn.ReLU()
    return nn.ELU(float(act.removeprefix("elu")))


def segmentation_model(params: SegmModelsParams, channels: int) -> nn.Module:
    """The encoder-decoder, `channels` in and out, without pretrained weights."""
    decoder_class: Any = getattr(smp, DECODERS[params.decoder_type])
    model: nn.Module = decoder_class(
        encoder_name=params.encoder_name,
        encoder_weights=None,
        in_channels=channels,
        classes=channels,
        **params.decoder_options,
    )
    return model


class SegmModels(nn.Module):
    """`(batch, channels, samples)` → `(batch, stems, channels, samples)`."""

    window: Tensor

    def __init__(self, params: SegmModelsParams) -> None:
        super().__init__()
        self.params = params
        self.spec_channels = params.num_subbands * params.audio_channels * 2
        self.num_stems = len(params.output_stem_names)
        channels = params.hidden_channels

        self.first_conv = nn.Conv2d(self.spec_channels, channels, 1, 1, 0, bias=False)
        self.unet_model = segmentation_model(params, channels)
        self.final_conv = nn.Sequential(
            nn.Conv2d(channels + self.spec_channels, channels, 1, 1, 0, bias=False),
            activation(params.act),
            nn.Conv2d(channels, self.num_stems * self.spec_channels, 1, 1, 0, bias=False),
        )
        self.stft_params = params.stft
        self.register_buffer("window", core_stft.make_window(self.stft_params), persistent=False)
        encoder = getattr(self.unet_model, "encoder", None)
        # The encoder halves time and frequency down to this stride; shapes must divide by it.
        self.output_stride = int(getattr(encoder, "output_stride", 1))

    def padded_length(self, samples: int) -> int:
        """The shortest length ≥ `samples` whose STFT frames divide by the encoder's stride.

        MSST's chunk sizes already are such lengths; other ones (a user's chunk size) are
        zero-padded on the right and the output cropped back.
        """
        hop = self.params.hop_length
        frames = -(-samples // hop) + 1
        frames = -(-frames // self.output_stride) * self.output_stride
        return (frames - 1) * hop

    def forward(self, audio: Tensor) -> Tensor:
        samples = audio.shape[-1]
        padded = self.padded_length(samples)
        if padded != samples:
            return self.forward(nn.functional.pad(audio, (0, padded - samples)))[..., :samples]
        mix = core_stft.to_subbands(
            core_stft.stft_channels(audio, self.stft_params, self.window, self.params.dim_f),
            self.params.num_subbands,
        )
        first = self.first_conv(mix)
        # The segmentation network sees (time, frequency) images, as in MSST.
        x = self.unet_model(first.transpose(-1, -2)).transpose(-1, -2)
        # Gating by the first conv's output reduces artifacts (MSST's comment).
        x = core_stft.from_subbands(
            self.final_conv(torch.cat([mix, x * first], 1)), self.params.num_subbands
        )
        batch, _, freq, frames = x.shape
        spec = x.reshape(batch, -1, self.spec_channels // self.params.num_subbands, freq, frames)
        return core_stft.istft_channels(spec, self.stft_params, samples, self.window)


def build(params: SegmModelsParams) -> SegmModels:
    return SegmModels(params)


def select_stems(
    network: nn.Module, params: SegmModelsParams, stems: tuple[str, ...]
) -> tuple[nn.Module, tuple[str, ...]]:
    """Keep only the final convolution's output channels of `stems` (in the order asked)."""
    if not isinstance(network, SegmModels):
        raise TypeError(f"expected a SegmModels network, got {type(network).__name__}")
    rows = stem_rows(params.output_stem_names, stems, network.spec_channels)
    head = network.final_conv[2]
    assert isinstance(head, nn.Conv2d)
    network.final_conv[2] = keep_conv_outputs(head, rows)
    network.num_stems = len(stems)
    return network, tuple(stems)
