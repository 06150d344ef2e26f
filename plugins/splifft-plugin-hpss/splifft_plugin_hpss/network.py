"""The HPSS mask estimator: median filters over the magnitude spectrogram, then soft masks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from splifft_plugin_hpss.params import HpssParams


def median_filter(x: Tensor, kernel: int, dim: int) -> Tensor:
    """Running median of odd length `kernel` along `dim`, edges reflected."""
    moved = x.movedim(dim, -1)
    half = kernel // 2
    lead = moved.shape[:-1]
    flat = moved.reshape(-1, 1, moved.shape[-1])
    mode = "reflect" if flat.shape[-1] > half else "replicate"
    padded = F.pad(flat, (half, half), mode=mode)
    medians = padded.unfold(-1, kernel, 1).median(dim=-1).values
    return medians.reshape(*lead, -1).movedim(-1, dim)


class HpssNetwork(nn.Module):
    """Complex spectrogram `(b, c, f, t, 2)` → masks `(b, 2, c, f, t, 2)` (harmonic, percussive)."""

    def __init__(self, params: HpssParams) -> None:
        super().__init__()
        self.params = params

    def forward(self, spec: Tensor) -> Tensor:
        p = self.params
        magnitude = torch.linalg.vector_norm(spec, dim=-1)  # (b, c, f, t)
        harmonic = median_filter(magnitude, p.harmonic_kernel, dim=-1)
        percussive = median_filter(magnitude, p.percussive_kernel, dim=-2)
        if p.mask == "binary":
            mask_h = (harmonic > p.margin * percussive).to(spec.dtype)
            mask_p = (percussive > p.margin * harmonic).to(spec.dtype)
        else:
            mask_h = soft_mask(harmonic, p.margin * percussive, p.power)
            mask_p = soft_mask(percussive, p.margin * harmonic, p.power)
        masks = torch.stack([mask_h, mask_p], dim=1)
        return torch.stack([masks, torch.zeros_like(masks)], dim=-1)


def soft_mask(target: Tensor, other: Tensor, power: float) -> Tensor:
    """`target^p / (target^p + other^p)`; where both are zero, an even split."""
    scale = torch.maximum(target, other)
    zero = scale <= torch.finfo(target.dtype).tiny
    scale = torch.where(zero, torch.ones_like(scale), scale)
    t = (target / scale) ** power
    o = (other / scale) ** power
    return torch.where(zero, torch.full_like(t, 0.5), t / (t + o))


def build(params: HpssParams) -> HpssNetwork:
    return HpssNetwork(params)
