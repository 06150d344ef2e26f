"""Spleeter hyperparameters (torch-free).

The names follow Spleeter's model configuration (`spleeter/resources/2stems.json`) where it has
one: `frame_length` → `n_fft`, `frame_step` → `hop_length`, `F` → `freq_bins`, `T` →
`segment_frames`, `model.params.conv_n_filters` → `conv_filters`,
`model.params.{conv,deconv}_activation`, `separation_exponent`, `mask_extension`; the model
function `unet.unet` is `mask_activation="sigmoid"` and `unet.softmax_unet` is `"softmax"`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from splifft_core.models import ModelParams, StftParams
from splifft_core.types import Channels, FftSize, Gt0

ENCODER_DEPTH = 6
"""Spleeter's U-Net has six strided convolutions down and six transposed ones up."""

ConvActivation = Literal["LeakyReLU", "ReLU", "ELU"]


class SpleeterParams(ModelParams):
    """One U-Net per stem on the mixture's magnitude spectrogram, ratio masks, inverse STFT.

    `chunk_size` samples become `ceil((chunk_size + n_fft) / hop_length)` STFT frames (Spleeter
    puts `n_fft` zeros before the waveform and frames it without centring), zero-padded to whole
    segments of `segment_frames`: `segment_frames * hop_length - n_fft` samples (520192, 11.8 s at
    44.1 kHz, for 2stems) are exactly one segment, Spleeter's own unit of work.
    """

    audio_channels: Channels = 2
    n_fft: FftSize = 4096
    """Spleeter's `frame_length`: a periodic Hann window of this length."""
    hop_length: Gt0 = 1024
    """Spleeter's `frame_step`; `n_fft` must be four hops (Spleeter's window compensation, 2/3,
    is the reciprocal of the squared Hann window summed over four overlapping frames)."""
    freq_bins: Gt0 = 1024
    """Spleeter's `F`: the lowest STFT bins the U-Nets see; the masks of the bins above are
    `mask_extension`."""
    segment_frames: Gt0 = 512
    """Spleeter's `T`: STFT frames per U-Net call."""
    conv_filters: tuple[Gt0, Gt0, Gt0, Gt0, Gt0, Gt0] = (16, 32, 64, 128, 256, 512)
    """Spleeter's `conv_n_filters`: output channels of the six encoder convolutions (the
    decoder mirrors them, down to one channel)."""
    conv_activation: ConvActivation = "LeakyReLU"
    """After each encoder convolution and its batch norm; `LeakyReLU` has slope 0.2."""
    deconv_activation: ConvActivation = "ReLU"
    """After each decoder transposed convolution, before its batch norm."""
    mask_activation: Literal["sigmoid", "softmax"] = "sigmoid"
    """`sigmoid`: each stem's U-Net makes its own mask (Spleeter's `unet.unet`, 2 and 4 stems);
    `softmax`: the stems' U-Nets output logits and a softmax across stems makes the masks
    (`unet.softmax_unet`, 5 stems)."""
    separation_exponent: float = Field(default=2.0, gt=0)
    """The ratio masks are `estimate_i ** exponent / sum_j estimate_j ** exponent`."""
    mask_extension: Literal["zeros", "average"] = "zeros"
    """The masks of the bins above `freq_bins`: zero, or each frame's mean over the lower bins."""

    @model_validator(mode="after")
    def _check_shapes(self) -> SpleeterParams:
        if self.n_fft != 4 * self.hop_length:
            raise ValueError(
                f"n_fft={self.n_fft} must be 4 * hop_length={4 * self.hop_length} (Spleeter's "
                "window compensation assumes four overlapping frames)"
            )
        bins = self.n_fft // 2 + 1
        if self.freq_bins > bins:
            raise ValueError(
                f"freq_bins={self.freq_bins} exceeds the {bins} bins of n_fft={self.n_fft}"
            )
        scale = 2**ENCODER_DEPTH
        for name in ("freq_bins", "segment_frames"):
            if getattr(self, name) % scale:
                raise ValueError(
                    f"{name}={getattr(self, name)} must be a multiple of {scale} (the U-Net "
                    f"halves it {ENCODER_DEPTH} times)"
                )
        return self

    def frames(self, samples: int) -> int:
        """STFT frames of `samples`, Spleeter's way: `n_fft` zeros first, the end zero-padded."""
        return -(-(samples + self.n_fft) // self.hop_length)

    def segments(self, samples: int) -> int:
        """U-Net calls (per stem and channel group) for `samples`."""
        return -(-self.frames(samples) // self.segment_frames)

    @property
    def segment_samples(self) -> int:
        """The longest chunk that is one segment (`segment_frames * hop_length - n_fft`)."""
        return self.segment_frames * self.hop_length - self.n_fft

    @property
    def stft(self) -> StftParams:
        """The analysis transform: a periodic Hann window of `n_fft`, not centred (the network
        pads the waveform itself, as Spleeter does)."""
        return StftParams(n_fft=self.n_fft, hop_length=self.hop_length, center=False)
