"""Spleeter (Hennequin et al., JOSS 2020): one U-Net per stem on magnitude spectrograms.

Written from the paper and Spleeter's TensorFlow model (`spleeter/model/functions/unet.py`,
`spleeter/model/__init__.py`), in torch's layout: a U-Net sees `(segments, channels, time,
frequency)` where Spleeter's sees `(segments, time, frequency, channels)`, so its kernels are
TensorFlow's with the axes permuted and nothing flipped.

A chunk `(batch, channels, samples)` goes

1. to the STFT Spleeter takes: `n_fft` zeros before the waveform, frames every `hop_length`
   without centring, the end zero-padded to whole frames (TensorFlow's `pad_end`), periodic Hann;
2. to the magnitudes of the lowest `freq_bins` bins, zero-padded to whole segments of
   `segment_frames` frames, each segment a separate U-Net input;
3. through every stem's U-Net: a mask in (0, 1) (sigmoid) times the input, Spleeter's estimate of
   the stem's magnitudes (or a softmax across the stems' logits, `softmax_unet`);
4. to ratio masks `(estimate_i ** p + eps / stems) / (sum_j estimate_j ** p + eps)` (`p` the
   separation exponent, `eps = 1e-10`), extended to every bin (`mask_extension`), applied to the
   complex STFT of the mixture;
5. back through the inverse STFT, cropped to the chunk: `(batch, stems, channels, samples)`.

The U-Net follows Spleeter's graph, which differs from a textbook U-Net in two places: the skip
connections carry each encoder convolution's output *before* its batch norm and activation, and
the decoder starts from the last convolution's raw output, so the last encoder batch norm (whose
weights the checkpoints hold) never affects the result. Decoder layers are transposed
convolution → activation → batch norm (→ dropout 0.5 on the first three, in training only).
Convolutions pad as TensorFlow's `padding="same"` does: half the padding (rounded down) before,
the rest after (5×5, stride 2 on an even size: one row before, two after), and the transposed
convolutions crop their full output the same way.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from splifft_core import stft as core_stft
from splifft_core.models import StftParams
from splifft_plugin_spleeter.params import ENCODER_DEPTH, ConvActivation, SpleeterParams

EPSILON = 1e-10
"""Spleeter's `EstimatorSpecBuilder.EPSILON`, in the ratio masks."""
BATCH_NORM_EPS = 1e-3
"""Keras' `BatchNormalization` default."""
KERNEL = 5
STRIDE = 2
MASK_KERNEL = 4
MASK_DILATION = 2
DROPOUT_LAYERS = 3
"""Dropout (0.5, training only) follows the first three decoder layers."""


def activation(name: ConvActivation) -> nn.Module:
    if name == "ReLU":
        return nn.ReLU()
    if name == "ELU":
        return nn.ELU()
    return nn.LeakyReLU(0.2)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's `padding="same"`: (before, after) for one axis of `size`."""
    effective = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


class EncoderLayer(nn.Module):
    """A 5×5 convolution, stride 2, then batch norm and the activation."""

    def __init__(self, in_channels: int, out_channels: int, act: ConvActivation) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, KERNEL, stride=STRIDE)
        self.norm = nn.BatchNorm2d(out_channels, eps=BATCH_NORM_EPS)
        self.act = activation(act)

    def convolve(self, x: Tensor) -> Tensor:
        """The convolution alone (what the skip connection carries)."""
        time_pad = same_padding(x.shape[-2], KERNEL, STRIDE)
        freq_pad = same_padding(x.shape[-1], KERNEL, STRIDE)
        out: Tensor = self.conv(F.pad(x, (*freq_pad, *time_pad)))
        return out

    def activate(self, conv: Tensor) -> Tensor:
        out: Tensor = self.act(self.norm(conv))
        return out


class DecoderLayer(nn.Module):
    """A 5×5 transposed convolution, stride 2 (doubling both axes), activation, batch norm."""

    def __init__(
        self, in_channels: int, out_channels: int, act: ConvActivation, *, dropout: bool
    ) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, KERNEL, stride=STRIDE)
        self.act = activation(act)
        self.norm = nn.BatchNorm2d(out_channels, eps=BATCH_NORM_EPS)
        self.dropout = nn.Dropout(0.5) if dropout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        time, freq = x.shape[-2] * STRIDE, x.shape[-1] * STRIDE
        full = self.conv(x)  # (size - 1) * stride + kernel on each axis
        # TensorFlow crops the full transposed convolution as `same` pads the convolution
        # whose gradient it is: `before` rows first, then keeps `size * stride`
        time_before, _ = same_padding(time, KERNEL, STRIDE)
        freq_before, _ = same_padding(freq, KERNEL, STRIDE)
        cropped = full[..., time_before : time_before + time, freq_before : freq_before + freq]
        out: Tensor = self.dropout(self.norm(self.act(cropped)))
        return out


class UNet(nn.Module):
    """One stem's network: magnitudes `(n, channels, time, freq)` → mask logits, same shape."""

    def __init__(self, params: SpleeterParams) -> None:
        super().__init__()
        filters = params.conv_filters
        channels = params.audio_channels
        inputs = (channels, *filters[:-1])
        self.encoder = nn.ModuleList(
            EncoderLayer(i, o, params.conv_activation) for i, o in zip(inputs, filters, strict=True)
        )
        # decoder layer d takes the previous decoder output concatenated with encoder skip
        # `depth - 2 - d` (the first takes the last convolution alone) and mirrors the filters
        # down to one channel
        outputs = (*filters[-2::-1], 1)
        decoder_inputs = (filters[-1], *(2 * f for f in filters[-2::-1]))
        self.decoder = nn.ModuleList(
            DecoderLayer(i, o, params.deconv_activation, dropout=d < DROPOUT_LAYERS)
            for d, (i, o) in enumerate(zip(decoder_inputs, outputs, strict=True))
        )
        pad = (MASK_KERNEL - 1) * MASK_DILATION // 2  # `same`, symmetric for this kernel
        self.mask_conv = nn.Conv2d(1, channels, MASK_KERNEL, dilation=MASK_DILATION, padding=pad)

    def forward(self, x: Tensor) -> Tensor:
        skips: list[Tensor] = []
        h = x
        for layer in self.encoder:
            encoder = cast(EncoderLayer, layer)
            conv = encoder.convolve(h)
            skips.append(conv)
            if len(skips) < ENCODER_DEPTH:  # the last activation feeds nothing in Spleeter
                h = encoder.activate(conv)
        h = skips.pop()
        for index, layer in enumerate(self.decoder):
            h = layer(h)
            if index < ENCODER_DEPTH - 1:
                h = torch.cat([skips.pop(), h], dim=1)
        logits: Tensor = self.mask_conv(h)
        return logits


class Spleeter(nn.Module):
    """`(batch, channels, samples)` → `(batch, stems, channels, samples)`."""

    window: Tensor

    def __init__(self, params: SpleeterParams) -> None:
        super().__init__()
        self.params = params
        self.unets = nn.ModuleList(UNet(params) for _ in params.output_stem_names)
        self.analysis = params.stft
        # torch.istft refuses an uncentred Hann window (its envelope is zero at the first
        # sample); the frames are the same ones, read as centred on a signal that starts
        # n_fft // 2 samples before the chunk
        self.synthesis = StftParams(n_fft=params.n_fft, hop_length=params.hop_length)
        self.register_buffer("window", core_stft.make_window(self.analysis), persistent=False)

    def forward(self, audio: Tensor) -> Tensor:
        p = self.params
        batch, channels, samples = audio.shape
        frames = p.frames(samples)
        # n_fft zeros before the chunk; after it, zeros up to the end of the last frame
        after = (frames - 1) * p.hop_length - samples
        padded = F.pad(audio, (p.n_fft, after))
        spec = core_stft.stft(padded, self.analysis, self.window)  # (b, c, bins, frames)

        segments = -(-frames // p.segment_frames)
        magnitude = spec[..., : p.freq_bins, :].abs()
        magnitude = F.pad(magnitude, (0, segments * p.segment_frames - frames))
        # (b, c, F, segments, T) → (b * segments, c, T, F): a U-Net sees time × frequency
        unet_input = (
            magnitude.view(batch, channels, p.freq_bins, segments, p.segment_frames)
            .permute(0, 3, 1, 4, 2)
            .reshape(batch * segments, channels, p.segment_frames, p.freq_bins)
        )
        estimates = self.estimates(unet_input)  # (stems, b * segments, c, T, F)
        masks = self.ratio_masks(estimates)
        stems = masks.shape[0]
        # back to (b, stems, c, F, frames)
        masks = (
            masks.view(stems, batch, segments, channels, p.segment_frames, p.freq_bins)
            .permute(1, 0, 3, 5, 2, 4)
            .reshape(batch, stems, channels, p.freq_bins, segments * p.segment_frames)[..., :frames]
        )
        masks = self.extend(masks, spec.shape[-2])
        masked = spec.unsqueeze(1) * masks
        # the synthesis frames are centred on a signal that starts n_fft // 2 before the chunk
        half = p.n_fft // 2
        out = core_stft.istft(masked, self.synthesis, length=half + samples, window=self.window)
        return out[..., half:]

    def estimates(self, magnitude: Tensor) -> Tensor:
        """Every stem's magnitude estimate, `(stems, n, channels, time, freq)`."""
        logits = torch.stack([unet(magnitude) for unet in self.unets])
        if self.params.mask_activation == "softmax":
            masks = torch.softmax(logits, dim=0)
        else:
            masks = torch.sigmoid(logits)
        # in the magnitudes' precision (float32 under autocast): eps = 1e-10 is 0 in float16
        return masks.to(magnitude.dtype) * magnitude

    def ratio_masks(self, estimates: Tensor) -> Tensor:
        """Spleeter's `_build_masks`: `(e_i ** p + eps / stems) / (sum_j e_j ** p + eps)`."""
        powered = estimates**self.params.separation_exponent
        total = powered.sum(dim=0) + EPSILON
        return (powered + EPSILON / estimates.shape[0]) / total

    def extend(self, masks: Tensor, bins: int) -> Tensor:
        """Masks `(..., freq_bins, frames)` for every STFT bin (`mask_extension`)."""
        extra = bins - masks.shape[-2]
        if extra == 0:
            return masks
        if self.params.mask_extension == "average":
            row = masks.mean(dim=-2, keepdim=True)
        else:
            row = torch.zeros_like(masks[..., :1, :])
        return torch.cat([masks, row.expand(*masks.shape[:-2], extra, masks.shape[-1])], dim=-2)


def build(params: SpleeterParams) -> Spleeter:
    return Spleeter(params)
