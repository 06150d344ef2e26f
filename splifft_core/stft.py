"""The one STFT and inverse STFT of the core and of every network that transforms by itself.

Settings are a [StftParams][splifft_core.models.StftParams]: `n_fft`, `hop_length`,
`win_length`, the window's kind, `center` and `normalized`, passed to `torch.stft` /
`torch.istft` (reflect padding when centred). Any leading dimensions are accepted.

This module imports torch: networks and the archetypes import it, `import splifft_core` does not.
A network that transforms every chunk keeps `make_window(params)` as a non-persistent buffer
(`register_buffer(..., persistent=False)`, so `.to(device)` moves it and checkpoints do not hold
it) and passes it in; without one, the window is built for each call on the input's device.
"""

from __future__ import annotations

from typing import TypedDict

import torch
from torch import Tensor

from splifft_core.models import StftParams


def make_window(
    params: StftParams, device: torch.device | None = None, dtype: torch.dtype | None = None
) -> Tensor:
    """The analysis (and synthesis) window, `(win_length,)` (`n_fft` when unset)."""
    length = params.win_length or params.n_fft
    if params.window == "hann":
        return torch.hann_window(length, device=device, dtype=dtype)
    if params.window == "hamming":
        return torch.hamming_window(length, device=device, dtype=dtype)
    return torch.ones(length, device=device, dtype=dtype)


class _Settings(TypedDict):
    n_fft: int
    hop_length: int
    win_length: int
    window: Tensor
    center: bool
    normalized: bool


def _settings(params: StftParams, window: Tensor) -> _Settings:
    """The keyword arguments `torch.stft` and `torch.istft` share."""
    return {
        "n_fft": params.n_fft,
        "hop_length": params.hop_length,
        "win_length": params.win_length or params.n_fft,
        "window": window,
        "center": params.center,
        "normalized": params.normalized,
    }


def stft(audio: Tensor, params: StftParams, window: Tensor | None = None) -> Tensor:
    """Real `(..., samples)` → complex `(..., n_fft // 2 + 1, frames)`."""
    if window is None:
        window = make_window(params, audio.device, audio.dtype)
    *lead, samples = audio.shape
    spec = torch.stft(audio.reshape(-1, samples), **_settings(params, window), return_complex=True)
    return spec.view(*lead, *spec.shape[-2:])


def istft(
    spec: Tensor, params: StftParams, length: int | None = None, window: Tensor | None = None
) -> Tensor:
    """Complex `(..., n_fft // 2 + 1, frames)` → real `(..., samples)`.

    `length`: the output's samples (the input's length of [stft][splifft_core.stft.stft]);
    `None` gives `hop_length * (frames - 1)` when centred.
    """
    if window is None:
        window = make_window(params, spec.device, spec.real.dtype)
    *lead, freqs, frames = spec.shape
    audio = torch.istft(spec.reshape(-1, freqs, frames), **_settings(params, window), length=length)
    return audio.view(*lead, audio.shape[-1])


def stft_channels(
    audio: Tensor, params: StftParams, window: Tensor | None = None, bins: int | None = None
) -> Tensor:
    """`(batch, channels, samples)` → `(batch, 2·channels, bins, frames)`: every channel's real
    and imaginary parts as two image channels (MDX-Net's and MSST's TFC-TDF layout: left re,
    left im, right re, …); `bins`: only the lowest ones (default: all)."""
    batch, channels, _ = audio.shape
    spec = torch.view_as_real(stft(audio, params, window))  # (b, c, f, t, 2)
    spec = spec.permute(0, 1, 4, 2, 3).reshape(batch, channels * 2, *spec.shape[-3:-1])
    return spec if bins is None else spec[:, :, :bins]


def istft_channels(
    spec: Tensor, params: StftParams, length: int | None = None, window: Tensor | None = None
) -> Tensor:
    """Inverse of [stft_channels][splifft_core.stft.stft_channels]: `(..., 2·channels, bins,
    frames)` → `(..., channels, samples)`; the bins above `bins` are zero."""
    *lead, stacked, freqs, frames = spec.shape
    full = params.n_fft // 2 + 1
    spec = torch.nn.functional.pad(spec, (0, 0, 0, full - freqs))
    spec = spec.reshape(-1, 2, full, frames).permute(0, 2, 3, 1)
    audio = istft(torch.view_as_complex(spec.contiguous()), params, length, window)
    return audio.reshape(*lead, stacked // 2, audio.shape[-1])


def to_subbands(spec: Tensor, count: int) -> Tensor:
    """`(batch, channels, freqs, frames)` → `(batch, channels·count, freqs / count, frames)`:
    the frequency axis cut into `count` bands stacked as channels (MSST's TFC-TDF `cac2cws`)."""
    batch, channels, freqs, frames = spec.shape
    return spec.reshape(batch, channels * count, freqs // count, frames)


def from_subbands(spec: Tensor, count: int) -> Tensor:
    """Inverse of [to_subbands][splifft_core.stft.to_subbands] (MSST's `cws2cac`)."""
    batch, channels, freqs, frames = spec.shape
    return spec.reshape(batch, channels // count, freqs * count, frames)
