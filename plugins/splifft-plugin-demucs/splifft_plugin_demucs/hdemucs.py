"""Hybrid Demucs (Défossez 2021, demucs v3), written for inference.

Same `state_dict` keys and maths as `demucs.hdemucs.HDemucs`: the HTDemucs U-Nets without the
transformer (the bottleneck restarts from zeros, the signal goes through the skips), deeper,
with a BiLSTM and local attention in the deepest residual branches.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from splifft_plugin_demucs.network import (
    BagOfModels,
    HDecLayer,
    HEncLayer,
    ScaledEmbedding,
    ispectro,
    pad1d,
    spectro,
)

if TYPE_CHECKING:
    from splifft_plugin_demucs.params import HDemucsParams


class HDemucs(nn.Module):
    """`(batch, audio_channels, time)` -> `(batch, sources, audio_channels, time)`, any length."""

    def __init__(self, params: HDemucsParams) -> None:
        super().__init__()
        p = params
        self.sources = p.sources
        self.depth = p.depth
        self.nfft = p.nfft
        self.hop_length = p.nfft // 4
        self.hybrid = p.hybrid
        self.hybrid_old = p.hybrid_old
        self.encoder = nn.ModuleList()
        self.decoder = nn.ModuleList()
        self.tencoder = nn.ModuleList()
        self.tdecoder = nn.ModuleList()
        self.freq_emb: ScaledEmbedding | None = None
        self.freq_emb_scale = p.freq_emb

        chin = p.audio_channels
        chin_z = chin * 2  # complex as channels
        chout = p.channels_time or p.channels
        chout_z = p.channels
        freqs = p.nfft // 2
        for index in range(p.depth):
            norm = index >= p.norm_starts
            freq = freqs > 1
            stride, kernel = p.stride, p.kernel_size
            if not freq:
                kernel, stride = p.time_stride * 2, p.time_stride
            pad, last_freq = True, False
            if freq and freqs <= p.kernel_size:
                kernel, pad, last_freq = freqs, False, True
            dconv_kw: dict[str, float] = {
                "depth": p.dconv_depth,
                "compress": p.dconv_comp,
                "init": p.dconv_init,
                "lstm": float(index >= p.dconv_lstm),
                "attn": float(index >= p.dconv_attn),
            }
            common: dict[str, object] = {
                "norm_groups": p.norm_groups,
                "norm": norm,
                "dconv_kw": dconv_kw,
                "rewrite": p.rewrite,
            }
            kw = {"kernel_size": kernel, "stride": stride, "freq": freq, "pad": pad, **common}
            kwt: dict[str, object] = {
                "kernel_size": p.kernel_size,
                "stride": p.stride,
                "freq": False,
                "pad": True,
                **common,
            }
            if last_freq:
                chout_z = max(chout, chout_z)
                chout = chout_z
            enc_dconv = bool(p.dconv_mode & 1)
            dec_dconv = bool(p.dconv_mode & 2)
            self.encoder.append(
                HEncLayer(chin_z, chout_z, dconv=enc_dconv, context=p.context_enc, **kw)  # type: ignore[arg-type]
            )
            if self.hybrid and freq:
                self.tencoder.append(
                    HEncLayer(
                        chin,
                        chout,
                        dconv=enc_dconv,
                        context=p.context_enc,
                        empty=last_freq,
                        **kwt,  # type: ignore[arg-type]
                    )
                )
            if index == 0:
                chin = p.audio_channels * len(p.sources)
                chin_z = chin * 2
            self.decoder.insert(
                0,
                HDecLayer(
                    chout_z,
                    chin_z,
                    dconv=dec_dconv,
                    last=index == 0,
                    context=p.context,
                    **kw,  # type: ignore[arg-type]
                ),
            )
            if self.hybrid and freq:
                self.tdecoder.insert(
                    0,
                    HDecLayer(
                        chout,
                        chin,
                        dconv=dec_dconv,
                        empty=last_freq,
                        last=index == 0,
                        context=p.context,
                        **kwt,  # type: ignore[arg-type]
                    ),
                )
            chin, chin_z = chout, chout_z
            chout, chout_z = int(p.growth * chout), int(p.growth * chout_z)
            if freq:
                freqs = 1 if freqs <= p.kernel_size else freqs // p.stride
            if index == 0 and p.freq_emb:
                self.freq_emb = ScaledEmbedding(freqs, chin_z, scale=p.emb_scale)

    def _spec(self, x: Tensor) -> Tensor:
        hl = self.hop_length
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            if self.hybrid:
                le = math.ceil(x.shape[-1] / hl)
                pad = hl // 2 * 3
                # `hybrid_old` replicates a padding bug of the MDX 2021 models
                mode = "constant" if self.hybrid_old else "reflect"
                x = pad1d(x, pad, pad + le * hl - x.shape[-1], mode=mode)
            z = spectro(x, self.nfft, hl)[..., :-1, :]
        if self.hybrid:
            z = z[..., 2 : 2 + le]
        return z

    def _ispec(self, z: Tensor, length: int) -> Tensor:
        hl = self.hop_length
        with torch.autocast(device_type=z.device.type, enabled=False):
            z = F.pad(z, (0, 0, 0, 1))
            if not self.hybrid:
                return ispectro(z, hl, length)
            z = F.pad(z, (2, 2))
            pad = hl // 2 * 3
            if self.hybrid_old:
                return ispectro(z, hl, hl * math.ceil(length / hl))[..., :length]
            x = ispectro(z, hl, hl * math.ceil(length / hl) + 2 * pad)
        return x[..., pad : pad + length]

    def forward(self, mix: Tensor) -> Tensor:
        length = mix.shape[-1]
        z = self._spec(mix)
        b, c, fr, t = z.shape
        x = torch.view_as_real(z).permute(0, 1, 4, 2, 3).reshape(b, c * 2, fr, t)
        batch, _, fq, frames = x.shape
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) / (1e-5 + std)
        xt = mix
        meant = xt.mean(dim=(1, 2), keepdim=True)
        stdt = xt.std(dim=(1, 2), keepdim=True)
        xt = (xt - meant) / (1e-5 + stdt)

        saved: list[Tensor] = []
        saved_t: list[Tensor] = []
        lengths: list[int] = []
        lengths_t: list[int] = []
        for idx, encode in enumerate(self.encoder):
            lengths.append(x.shape[-1])
            inject = None
            if self.hybrid and idx < len(self.tencoder):
                lengths_t.append(xt.shape[-1])
                tenc = self.tencoder[idx]
                xt = tenc(xt)
                if not tenc.empty:
                    saved_t.append(xt)
                else:
                    inject = xt
            x = encode(x, inject)
            if idx == 0 and self.freq_emb is not None:
                frs = torch.arange(x.shape[-2], device=x.device)
                emb = self.freq_emb(frs).t()[None, :, :, None].expand_as(x)
                x = x + self.freq_emb_scale * emb
            saved.append(x)

        # no bottleneck: the decoders start from zeros and get the signal through the skips
        x = torch.zeros_like(x)
        offset = self.depth - len(self.tdecoder)
        for idx, decode in enumerate(self.decoder):
            x, pre = decode(x, saved.pop(-1), lengths.pop(-1))
            if self.hybrid and idx >= offset:
                tdec = self.tdecoder[idx - offset]
                length_t = lengths_t.pop(-1)
                if tdec.empty:
                    xt, _ = tdec(pre[:, :, 0], None, length_t)
                else:
                    xt, _ = tdec(xt, saved_t.pop(-1), length_t)

        n_sources = len(self.sources)
        x = x.view(batch, n_sources, -1, fq, frames)
        x = x * std[:, None] + mean[:, None]
        m = x.float().view(batch, n_sources, -1, 2, fq, frames).permute(0, 1, 2, 4, 5, 3)
        out = self._ispec(torch.view_as_complex(m.contiguous()), length)
        if self.hybrid:
            xt = xt.view(batch, n_sources, -1, length)
            out = xt * stdt[:, None] + meant[:, None] + out
        return out


def build_model(params: HDemucsParams) -> nn.Module:
    """The model factory named by the `hdemucs` architecture spec."""
    if params.bag_weights is None:
        return HDemucs(params)
    return BagOfModels(params, HDemucs)
