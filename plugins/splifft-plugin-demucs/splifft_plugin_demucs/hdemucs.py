"""Hybrid Demucs (Défossez 2021, demucs v3), written for inference.

Same `state_dict` keys and maths as `demucs.hdemucs.HDemucs`: the HTDemucs U-Nets without the
transformer (the bottleneck restarts from zeros, the signal goes through the skips), deeper,
with a BiLSTM and local attention in the deepest residual branches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from splifft_plugin_demucs.network import (
    BagOfModels,
    HybridUNet,
    standardize,
)

if TYPE_CHECKING:
    from splifft_plugin_demucs.params import HDemucsParams


class HDemucs(HybridUNet):
    """`(batch, audio_channels, time)` -> `(batch, sources, audio_channels, time)`, any length."""

    def __init__(self, params: HDemucsParams) -> None:
        super().__init__()
        p = params
        self.sources = p.sources
        self.depth = p.depth
        self._init_stft(p)
        self.hybrid = p.hybrid
        self.hybrid_old = p.hybrid_old
        self._build_unets(
            p,
            subbands=1,
            time_branch=p.hybrid,
            dconv_kw=lambda index: {
                "depth": p.dconv_depth,
                "compress": p.dconv_comp,
                "init": p.dconv_init,
                "lstm": float(index >= p.dconv_lstm),
                "attn": float(index >= p.dconv_attn),
            },
        )

    def forward(self, mix: Tensor) -> Tensor:
        length = mix.shape[-1]
        x = self._magnitude(self._spec(mix))
        batch, _, fq, frames = x.shape
        x, mean, std = standardize(x, (1, 2, 3))
        xt, meant, stdt = standardize(mix, (1, 2))
        x, xt, skips = self._encode(x, xt)
        # no bottleneck: the decoders start from zeros and get the signal through the skips
        x, xt = self._decode(torch.zeros_like(x), xt, skips)

        n_sources = len(self.sources)
        x = x.view(batch, n_sources, -1, fq, frames)
        x = x * std[:, None] + mean[:, None]
        out = self._ispec(self._mask(x), length)
        if self.hybrid:
            xt = xt.view(batch, n_sources, -1, length)
            out = xt * stdt[:, None] + meant[:, None] + out
        return out


def build_model(params: HDemucsParams) -> nn.Module:
    """The model factory named by the `hdemucs` architecture spec."""
    if params.bag_weights is None:
        return HDemucs(params)
    return BagOfModels(params, HDemucs)
