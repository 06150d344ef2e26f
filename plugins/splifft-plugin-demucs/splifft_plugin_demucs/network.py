"""Hybrid Transformer Demucs (Rouard, Massa, Défossez 2023), written for inference.

Same maths and same `state_dict` keys as `demucs.htdemucs.HTDemucs` (demucs 4), so official and
MSST-trained checkpoints load unchanged with `strict=True`. A frequency branch (U-Net over the
complex-as-channels STFT) and a time branch (U-Net over the waveform) meet in a cross-domain
transformer; the output is the sum of the ISTFT of the frequency branch and the time branch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from splifft_core.kernels import linear
from splifft_core.stft import istft, make_window, stft

if TYPE_CHECKING:
    from collections.abc import Callable

    from splifft_plugin_demucs.params import HDemucsParams, HTDemucsParams


# ---------------------------------------------------------------------------------------------
# STFT helpers


def pad1d(x: Tensor, padding_left: int, padding_right: int, mode: str = "constant") -> Tensor:
    """`F.pad`, except that reflect padding longer than the signal zero-extends it first."""
    length = x.shape[-1]
    if mode == "reflect":
        max_pad = max(padding_left, padding_right)
        if length <= max_pad:
            extra = max_pad - length + 1
            extra_right = min(padding_right, extra)
            extra_left = extra - extra_right
            padding_left -= extra_left
            padding_right -= extra_right
            x = F.pad(x, (extra_left, extra_right))
    return F.pad(x, (padding_left, padding_right), mode=mode)


# ---------------------------------------------------------------------------------------------
# Convolutional layers


class LayerScale(nn.Module):
    """Per-channel residual scale (Touvron et al. 2021); `channel_last` for `(b, t, c)` input."""

    def __init__(self, channels: int, init: float = 0.0, channel_last: bool = False) -> None:
        super().__init__()
        self.channel_last = channel_last
        self.scale = nn.Parameter(torch.full((channels,), float(init)))

    def forward(self, x: Tensor) -> Tensor:
        if self.channel_last:
            return self.scale * x
        return self.scale[:, None] * x


class BLSTM(nn.Module):
    """Bidirectional LSTM over `(b, c, t)`; past `max_steps` it runs on half-overlapping frames
    of `max_steps` and keeps each frame's centre."""

    def __init__(self, dim: int, layers: int = 2, max_steps: int | None = 200) -> None:
        super().__init__()
        self.max_steps = max_steps
        self.lstm = nn.LSTM(bidirectional=True, num_layers=layers, hidden_size=dim, input_size=dim)
        self.linear = nn.Linear(2 * dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, c, t = x.shape
        y = x
        width = self.max_steps
        framed = width is not None and t > width
        if framed:
            assert width is not None
            stride = width // 2
            frames = math.ceil(t / stride)
            padded = F.pad(x, (0, (frames - 1) * stride + width - t))
            x = padded.unfold(-1, width, stride)  # (b, c, frames, width)
            x = x.permute(0, 2, 1, 3).reshape(-1, c, width)
        out: Tensor = self.linear(self.lstm(x.permute(2, 0, 1))[0]).permute(1, 2, 0)
        if framed:
            assert width is not None
            limit = stride // 2
            parts = out.reshape(b, -1, c, width)
            pieces = []
            for k in range(frames):
                lo = 0 if k == 0 else limit
                hi = width if k == frames - 1 else width - limit
                pieces.append(parts[:, k, :, lo:hi])
            out = torch.cat(pieces, -1)[..., :t]
        return out + y


class LocalState(nn.Module):
    """Attention without positions, penalized by a learnt decay with the time distance."""

    def __init__(self, channels: int, heads: int = 4, ndecay: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.ndecay = ndecay
        self.content = nn.Conv1d(channels, channels, 1)
        self.query = nn.Conv1d(channels, channels, 1)
        self.key = nn.Conv1d(channels, channels, 1)
        self.query_decay = nn.Conv1d(channels, heads * ndecay, 1)
        self.proj = nn.Conv1d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, _, t = x.shape
        heads = self.heads
        indexes = torch.arange(t, device=x.device, dtype=x.dtype)
        delta = indexes[:, None] - indexes[None, :]
        queries = self.query(x).view(b, heads, -1, t)
        keys = self.key(x).view(b, heads, -1, t)
        dots = torch.einsum("bhct,bhcs->bhts", keys, queries)
        dots /= keys.shape[2] ** 0.5
        decays = torch.arange(1, self.ndecay + 1, device=x.device, dtype=x.dtype)
        decay_q = torch.sigmoid(self.query_decay(x).view(b, heads, -1, t)) / 2
        decay_kernel = -decays.view(-1, 1, 1) * delta.abs() / self.ndecay**0.5
        dots += torch.einsum("fts,bhfs->bhts", decay_kernel, decay_q)
        # a position never attends to itself
        dots.masked_fill_(torch.eye(t, device=dots.device, dtype=torch.bool), -100)
        weights = torch.softmax(dots, dim=2)
        content = self.content(x).view(b, heads, -1, t)
        result = torch.einsum("bhts,bhct->bhcs", weights, content).reshape(b, -1, t)
        out: Tensor = x + self.proj(result)
        return out


class DConv(nn.Module):
    """Residual branch of dilated 1D convolutions, compressed by `compress` inside, optionally
    with a BiLSTM and local attention (HDemucs' deepest layers)."""

    def __init__(
        self,
        channels: int,
        compress: float = 4,
        depth: int = 2,
        init: float = 1e-4,
        lstm: bool = False,
        attn: bool = False,
    ) -> None:
        super().__init__()
        hidden = int(channels / compress)
        dilate = depth > 0
        self.layers = nn.ModuleList()
        for d in range(abs(depth)):
            dilation = 2**d if dilate else 1
            mods: list[nn.Module] = [
                nn.Conv1d(channels, hidden, 3, dilation=dilation, padding=dilation),
                nn.GroupNorm(1, hidden),
                nn.GELU(),
                nn.Conv1d(hidden, 2 * channels, 1),
                nn.GroupNorm(1, 2 * channels),
                nn.GLU(1),
                LayerScale(channels, init),
            ]
            # demucs' order (and state_dict indices): conv, norm, gelu, [lstm], [attn], …
            if attn:
                mods.insert(3, LocalState(hidden))
            if lstm:
                mods.insert(3, BLSTM(hidden))
            self.layers.append(nn.Sequential(*mods))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = x + layer(x)
        return x


class DConvArgs(TypedDict):
    compress: float
    depth: int
    init: float
    lstm: bool
    attn: bool


def _dconv_args(kw: dict[str, float]) -> DConvArgs:
    return {
        "compress": kw["compress"],
        "depth": int(kw["depth"]),
        "init": kw["init"],
        "lstm": bool(kw.get("lstm", 0)),
        "attn": bool(kw.get("attn", 0)),
    }


def _norm(enabled: bool, groups: int, channels: int) -> nn.Module:
    return nn.GroupNorm(groups, channels) if enabled else nn.Identity()


class HEncLayer(nn.Module):
    """Encoder layer of either branch: strided conv, GELU, DConv, 1x1 GLU rewrite.

    `empty` keeps only the first conv: the time branch's last layer, whose output is injected
    into the frequency branch once both have the same stride.
    """

    def __init__(
        self,
        chin: int,
        chout: int,
        *,
        kernel_size: int,
        stride: int,
        norm_groups: int,
        freq: bool,
        dconv: bool,
        norm: bool,
        context: int,
        dconv_kw: dict[str, float],
        pad: bool,
        rewrite: bool,
        empty: bool = False,
    ) -> None:
        super().__init__()
        self.freq = freq
        self.kernel_size = kernel_size
        self.stride = stride
        self.empty = empty
        padding = kernel_size // 4 if pad else 0
        self.conv: nn.Module
        if freq:
            self.conv = nn.Conv2d(chin, chout, (kernel_size, 1), (stride, 1), (padding, 0))
        else:
            self.conv = nn.Conv1d(chin, chout, kernel_size, stride, padding)
        if empty:
            return
        self.norm1 = _norm(norm, norm_groups, chout)
        self.rewrite: nn.Module | None = None
        if rewrite:
            conv = nn.Conv2d if freq else nn.Conv1d
            self.rewrite = conv(chout, 2 * chout, 1 + 2 * context, 1, context)
            self.norm2 = _norm(norm, norm_groups, 2 * chout)
        self.dconv: DConv | None = None
        if dconv:
            self.dconv = DConv(chout, **_dconv_args(dconv_kw))

    def forward(self, x: Tensor, inject: Tensor | None = None) -> Tensor:
        if not self.freq:
            if x.dim() == 4:
                x = x.reshape(x.shape[0], -1, x.shape[-1])
            remainder = x.shape[-1] % self.stride
            if remainder:
                x = F.pad(x, (0, self.stride - remainder))
        y: Tensor = self.conv(x)
        if self.empty:
            return y
        if inject is not None:
            if inject.dim() == 3 and y.dim() == 4:
                inject = inject[:, :, None]
            y = y + inject
        y = F.gelu(self.norm1(y))
        if self.dconv is not None:
            y = _apply_dconv(self.dconv, y, self.freq)
        if self.rewrite is not None:
            return F.glu(self.norm2(self.rewrite(y)), dim=1)
        out: Tensor = y
        return out


def _apply_dconv(dconv: DConv, y: Tensor, freq: bool) -> Tensor:
    if not freq:
        out: Tensor = dconv(y)
        return out
    # the residual branch is 1D over time, shared across frequencies
    b, c, fr, t = y.shape
    y = dconv(y.permute(0, 2, 1, 3).reshape(-1, c, t))
    return y.view(b, fr, c, t).permute(0, 2, 1, 3)


class HDecLayer(nn.Module):
    """Decoder layer: skip add, GLU rewrite, DConv, transposed conv (GELU unless `last`)."""

    def __init__(
        self,
        chin: int,
        chout: int,
        *,
        last: bool,
        kernel_size: int,
        stride: int,
        norm_groups: int,
        freq: bool,
        dconv: bool,
        norm: bool,
        context: int,
        dconv_kw: dict[str, float],
        pad: bool,
        rewrite: bool,
        empty: bool = False,
    ) -> None:
        super().__init__()
        self.pad = kernel_size // 4 if pad else 0
        self.last = last
        self.freq = freq
        self.chin = chin
        self.empty = empty
        self.conv_tr: nn.Module
        if freq:
            self.conv_tr = nn.ConvTranspose2d(chin, chout, (kernel_size, 1), (stride, 1))
        else:
            self.conv_tr = nn.ConvTranspose1d(chin, chout, kernel_size, stride)
        self.norm2 = _norm(norm, norm_groups, chout)
        if empty:
            return
        self.rewrite: nn.Module | None = None
        if rewrite:
            conv = nn.Conv2d if freq else nn.Conv1d
            self.rewrite = conv(chin, 2 * chin, 1 + 2 * context, 1, context)
            self.norm1 = _norm(norm, norm_groups, 2 * chin)
        self.dconv: DConv | None = None
        if dconv:
            self.dconv = DConv(chin, **_dconv_args(dconv_kw))

    def forward(self, x: Tensor, skip: Tensor | None, length: int) -> tuple[Tensor, Tensor]:
        if self.freq and x.dim() == 3:
            x = x.view(x.shape[0], self.chin, -1, x.shape[-1])
        if self.empty:
            y = x
        else:
            assert skip is not None
            x = x + skip
            y = F.glu(self.norm1(self.rewrite(x)), dim=1) if self.rewrite is not None else x
            if self.dconv is not None:
                y = _apply_dconv(self.dconv, y, self.freq)
        z = self.norm2(self.conv_tr(y))
        if self.freq:
            if self.pad:
                z = z[..., self.pad : -self.pad, :]
        else:
            z = z[..., self.pad : self.pad + length]
        if not self.last:
            z = F.gelu(z)
        return z, y


class ScaledEmbedding(nn.Module):
    """Embedding whose output is multiplied by `scale` (a learning-rate boost in training)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, scale: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_embeddings, embedding_dim)
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.embedding(x) * self.scale
        return out


# ---------------------------------------------------------------------------------------------
# Cross-domain transformer


def sin_embedding(length: int, dim: int, device: torch.device, max_period: float) -> Tensor:
    """1D sinusoidal positions, `(length, 1, dim)`: cosines then sines."""
    pos = torch.arange(length, device=device).view(-1, 1, 1)
    half_dim = dim // 2
    adim = torch.arange(half_dim, device=device).view(1, 1, -1)
    phase = pos / (max_period ** (adim / (half_dim - 1)))
    return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)


def cape_embedding(
    length: int, dim: int, batch: int, mean_normalize: bool, device: torch.device, max_period: float
) -> Tensor:
    """CAPE positions at inference (no augmentation), `(length, batch, dim)`."""
    pos = 1.0 * torch.arange(length).view(-1, 1, 1)
    pos = pos.repeat(1, batch, 1)
    if mean_normalize:
        pos -= torch.nanmean(pos, dim=0, keepdim=True)
    pos = pos.to(device)
    half_dim = dim // 2
    adim = torch.arange(half_dim, device=device).view(1, 1, -1)
    phase = pos / (max_period ** (adim / (half_dim - 1)))
    return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1).float()


def sin_embedding_2d(
    d_model: int, height: int, width: int, device: torch.device, max_period: float
) -> Tensor:
    """2D sinusoidal positions, `(1, d_model, height, width)`: half the channels per axis."""
    pe = torch.zeros(d_model, height, width)
    half = d_model // 2
    div_term = torch.exp(torch.arange(0.0, half, 2) * -(math.log(max_period) / half))
    pos_w = torch.arange(0.0, width).unsqueeze(1)
    pos_h = torch.arange(0.0, height).unsqueeze(1)
    pe[0:half:2] = torch.sin(pos_w * div_term).transpose(0, 1).unsqueeze(1).repeat(1, height, 1)
    pe[1:half:2] = torch.cos(pos_w * div_term).transpose(0, 1).unsqueeze(1).repeat(1, height, 1)
    pe[half::2] = torch.sin(pos_h * div_term).transpose(0, 1).unsqueeze(2).repeat(1, 1, width)
    pe[half + 1 :: 2] = torch.cos(pos_h * div_term).transpose(0, 1).unsqueeze(2).repeat(1, 1, width)
    return pe[None].to(device)


class ChannelGroupNorm(nn.GroupNorm):
    """GroupNorm over `(b, t, c)` input (demucs' `MyGroupNorm`)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


def _layer_norm(group_norm: bool, d_model: int) -> nn.Module:
    if group_norm:
        return ChannelGroupNorm(int(group_norm), d_model, eps=1e-5)
    return nn.LayerNorm(d_model, eps=1e-5)


class _TransformerLayerBase(nn.Module):
    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int,
        dropout: float,
        activation: Callable[[Tensor], Tensor],
        group_norm: bool,
        norm_first: bool,
        norm_out: bool,
        layer_scale: bool,
    ) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm_first = norm_first
        self.norm1 = _layer_norm(group_norm, d_model)
        self.norm2 = _layer_norm(group_norm, d_model)
        self.norm_out: nn.Module | None = None
        if norm_first and norm_out:
            self.norm_out = ChannelGroupNorm(num_groups=1, num_channels=d_model)
        self.gamma_1: nn.Module = LayerScale(d_model, 1e-4, True) if layer_scale else nn.Identity()
        self.gamma_2: nn.Module = LayerScale(d_model, 1e-4, True) if layer_scale else nn.Identity()
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = activation

    def _ff_block(self, x: Tensor) -> Tensor:
        out: Tensor = self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))
        return out


def multihead_attention(mha: nn.MultiheadAttention, query: Tensor, key: Tensor) -> Tensor:
    """`mha(query, key, key, need_weights=False)[0]` (batch first, inference) through
    `scaled_dot_product_attention`.

    `nn.MultiheadAttention`'s inference fast path for self-attention materialises the
    `(heads, L, L)` score matrix (hundreds of MiB for HTDemucs' 2 688 frequency tokens); the
    fused kernel streams it and is faster on CPU as well.
    """
    dim, heads = mha.embed_dim, mha.num_heads
    weight, bias = mha.in_proj_weight, mha.in_proj_bias
    if query is key:
        q, k, v = linear(query, weight, bias).chunk(3, dim=-1)
    else:
        q = linear(query, weight[:dim], None if bias is None else bias[:dim])
        k, v = linear(key, weight[dim:], None if bias is None else bias[dim:]).chunk(2, dim=-1)
    # (b, L, h·d) → (b, h, L, d), views
    q, k, v = (t.reshape(*t.shape[:-1], heads, -1).transpose(1, 2) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v)
    return linear(out.transpose(1, 2).flatten(-2), mha.out_proj.weight, mha.out_proj.bias)


class SelfTransformerLayer(_TransformerLayerBase):
    """Self-attention encoder layer over `(b, t, c)` (demucs' `MyTransformerEncoderLayer`)."""

    def __init__(self, d_model: int, nhead: int, dropout: float, **kwargs: object) -> None:
        super().__init__(d_model, nhead, dropout=dropout, **kwargs)  # type: ignore[arg-type]
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)

    def _sa_block(self, x: Tensor) -> Tensor:
        attn = multihead_attention(self.self_attn, x, x)
        out: Tensor = self.dropout1(attn)
        return out

    def forward(self, x: Tensor) -> Tensor:
        if self.norm_first:
            x = x + self.gamma_1(self._sa_block(self.norm1(x)))
            x = x + self.gamma_2(self._ff_block(self.norm2(x)))
            if self.norm_out is not None:
                x = self.norm_out(x)
            return x
        x = self.norm1(x + self.gamma_1(self._sa_block(x)))
        out: Tensor = self.norm2(x + self.gamma_2(self._ff_block(x)))
        return out


class CrossTransformerLayer(_TransformerLayerBase):
    """Cross-attention layer: one branch's queries attend to the other branch."""

    def __init__(self, d_model: int, nhead: int, dropout: float, **kwargs: object) -> None:
        super().__init__(d_model, nhead, dropout=dropout, **kwargs)  # type: ignore[arg-type]
        self.cross_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.norm3 = _layer_norm(bool(kwargs["group_norm"]), d_model)

    def _ca_block(self, q: Tensor, k: Tensor) -> Tensor:
        attn = multihead_attention(self.cross_attn, q, k)
        out: Tensor = self.dropout1(attn)
        return out

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        if self.norm_first:
            x: Tensor = q + self.gamma_1(self._ca_block(self.norm1(q), self.norm2(k)))
            x = x + self.gamma_2(self._ff_block(self.norm3(x)))
            if self.norm_out is not None:
                x = self.norm_out(x)
            return x
        x = self.norm1(q + self.gamma_1(self._ca_block(q, k)))
        out: Tensor = self.norm2(x + self.gamma_2(self._ff_block(x)))
        return out


class CrossTransformerEncoder(nn.Module):
    """Alternating self- and cross-attention layers over the two branches' bottlenecks."""

    def __init__(self, dim: int, params: HTDemucsParams) -> None:
        super().__init__()
        self.num_layers = params.t_layers
        self.classic_parity = 1 if params.t_cross_first else 0
        self.emb = params.t_emb
        self.max_period = params.t_max_period
        self.weight_pos_embed = params.t_weight_pos_embed
        self.cape_mean_normalize = params.t_cape_mean_normalize
        if params.t_emb == "scaled":
            # demucs' transformer ScaledEmbedding: init scale 0.2 / boost 3, output * 3
            self.position_embeddings = ScaledEmbedding(params.t_max_positions, dim, scale=3.0)
        self.norm_in: nn.Module
        self.norm_in_t: nn.Module
        if params.t_norm_in:
            self.norm_in = nn.LayerNorm(dim)
            self.norm_in_t = nn.LayerNorm(dim)
        elif params.t_norm_in_group:
            self.norm_in = ChannelGroupNorm(int(params.t_norm_in_group), dim)
            self.norm_in_t = ChannelGroupNorm(int(params.t_norm_in_group), dim)
        else:
            self.norm_in = nn.Identity()
            self.norm_in_t = nn.Identity()
        common: dict[str, object] = {
            "dim_feedforward": int(dim * params.t_hidden_scale),
            "activation": F.gelu if params.t_gelu else F.relu,
            "group_norm": params.t_group_norm,
            "norm_first": params.t_norm_first,
            "norm_out": params.t_norm_out,
            "layer_scale": params.t_layer_scale,
        }
        self.layers = nn.ModuleList()
        self.layers_t = nn.ModuleList()
        for idx in range(params.t_layers):
            layer = (
                SelfTransformerLayer if idx % 2 == self.classic_parity else CrossTransformerLayer
            )
            for stack in (self.layers, self.layers_t):
                stack.append(layer(dim, params.t_heads, params.t_dropout, **common))

    def _pos_embedding(self, length: int, batch: int, dim: int, device: torch.device) -> Tensor:
        if self.emb == "sin":
            emb = sin_embedding(length, dim, device, self.max_period)
        elif self.emb == "cape":
            emb = cape_embedding(
                length, dim, batch, self.cape_mean_normalize, device, self.max_period
            )
        else:
            emb = self.position_embeddings(torch.arange(length, device=device))[:, None]
        return emb.permute(1, 0, 2)  # (t, b, c) -> (b, t, c)

    def forward(self, x: Tensor, xt: Tensor) -> tuple[Tensor, Tensor]:
        b, c, fr, t1 = x.shape
        pos_2d = sin_embedding_2d(c, fr, t1, x.device, self.max_period)
        pos_2d = pos_2d.permute(0, 3, 2, 1).reshape(1, t1 * fr, c)
        x = x.permute(0, 3, 2, 1).reshape(b, t1 * fr, c)
        x = self.norm_in(x)
        x = x + self.weight_pos_embed * pos_2d

        _, _, t2 = xt.shape
        xt = xt.permute(0, 2, 1)
        pos = self._pos_embedding(t2, b, c, x.device)
        xt = self.norm_in_t(xt)
        xt = xt + self.weight_pos_embed * pos

        for idx in range(self.num_layers):
            if idx % 2 == self.classic_parity:
                x = self.layers[idx](x)
                xt = self.layers_t[idx](xt)
            else:
                old_x = x
                x = self.layers[idx](x, xt)
                xt = self.layers_t[idx](xt, old_x)

        x = x.reshape(b, t1, fr, c).permute(0, 3, 2, 1)
        return x, xt.permute(0, 2, 1)


# ---------------------------------------------------------------------------------------------
# The model


class HybridUNet(nn.Module):
    """What HTDemucs and HDemucs share: the frequency branch's STFT and the two U-Nets' passes.

    The STFT is demucs' `spectro`: Hann window of `nfft`, hop `nfft // 4`, normalized, centred
    with reflect padding; `hybrid` pads the signal so that the frames line up with the time
    branch (`hybrid_old`: zero padding, as the MDX 2021 models had it).
    """

    window: Tensor
    hybrid: bool = True
    hybrid_old: bool = False
    encoder: nn.ModuleList
    decoder: nn.ModuleList
    tencoder: nn.ModuleList
    tdecoder: nn.ModuleList
    freq_emb: ScaledEmbedding | None
    freq_emb_scale: float
    depth: int

    def _init_stft(self, params: HTDemucsParams | HDemucsParams) -> None:
        self.stft_params = params.stft
        self.nfft = params.nfft
        self.hop_length = self.stft_params.hop_length
        self.register_buffer("window", make_window(self.stft_params), persistent=False)

    def _build_unets(
        self,
        p: HTDemucsParams | HDemucsParams,
        *,
        subbands: int,
        time_branch: bool,
        dconv_kw: Callable[[int], dict[str, float]],
    ) -> None:
        """The frequency U-Net (and, with `time_branch`, the time U-Net) as demucs builds them.

        `subbands` frequency subbands are stacked as channels (MSST's extension); `dconv_kw`
        gives the residual branch's options of the layer at each depth.
        """
        self.encoder = nn.ModuleList()
        self.decoder = nn.ModuleList()
        self.tencoder = nn.ModuleList()
        self.tdecoder = nn.ModuleList()
        self.freq_emb = None
        self.freq_emb_scale = p.freq_emb

        chin = p.audio_channels
        chin_z = chin * 2 * subbands  # complex as channels
        chout = p.channels_time or p.channels
        chout_z = p.channels
        # MSST sizes the layers for nfft // 2 bins even when subbands leave fewer
        freqs = p.nfft // 2
        enc_dconv = bool(p.dconv_mode & 1)
        dec_dconv = bool(p.dconv_mode & 2)
        for index in range(p.depth):
            freq = freqs > 1
            stride, kernel = p.stride, p.kernel_size
            if not freq:
                kernel, stride = p.time_stride * 2, p.time_stride
            pad, last_freq = True, False
            if freq and freqs <= p.kernel_size:
                kernel, pad, last_freq = freqs, False, True
            common: dict[str, Any] = {
                "norm_groups": p.norm_groups,
                "norm": index >= p.norm_starts,
                "dconv_kw": dconv_kw(index),
                "rewrite": p.rewrite,
            }
            kw = {"kernel_size": kernel, "stride": stride, "freq": freq, "pad": pad, **common}
            kwt = {
                "kernel_size": p.kernel_size,
                "stride": p.stride,
                "freq": False,
                "pad": True,
                **common,
            }
            if last_freq:
                chout_z = max(chout, chout_z)
                chout = chout_z
            time = time_branch and freq

            self.encoder.append(
                HEncLayer(chin_z, chout_z, dconv=enc_dconv, context=p.context_enc, **kw)
            )
            if time:
                self.tencoder.append(
                    HEncLayer(
                        chin, chout, dconv=enc_dconv, context=p.context_enc, empty=last_freq, **kwt
                    )
                )
            if index == 0:
                chin = p.audio_channels * len(p.sources)
                chin_z = chin * 2 * subbands
            last = index == 0
            self.decoder.insert(
                0, HDecLayer(chout_z, chin_z, dconv=dec_dconv, last=last, context=p.context, **kw)
            )
            if time:
                self.tdecoder.insert(
                    0,
                    HDecLayer(
                        chout,
                        chin,
                        dconv=dec_dconv,
                        empty=last_freq,
                        last=last,
                        context=p.context,
                        **kwt,
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
        le = math.ceil(x.shape[-1] / hl)
        # the FFTs run in float32 even under a half-precision autocast
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            if self.hybrid:
                # pad so that the STFT has exactly ceil(length / hop) frames aligned with the
                # time branch; `hybrid_old` replicates a padding bug of the MDX 2021 models
                pad = hl // 2 * 3
                mode = "constant" if self.hybrid_old else "reflect"
                x = pad1d(x, pad, pad + le * hl - x.shape[-1], mode=mode)
            z = stft(x, self.stft_params, self.window)[..., :-1, :]
        if self.hybrid:
            z = z[..., 2 : 2 + le]
        return z

    def _ispec(self, z: Tensor, length: int) -> Tensor:
        hl = self.hop_length
        with torch.autocast(device_type=z.device.type, enabled=False):
            z = F.pad(z, (0, 0, 0, 1))
            if not self.hybrid:
                return istft(z, self.stft_params, length, self.window)
            z = F.pad(z, (2, 2))
            pad = hl // 2 * 3
            if self.hybrid_old:
                le = hl * math.ceil(length / hl)
                return istft(z, self.stft_params, le, self.window)[..., :length]
            le = hl * math.ceil(length / hl) + 2 * pad
            x = istft(z, self.stft_params, le, self.window)
        return x[..., pad : pad + length]

    def _magnitude(self, z: Tensor) -> Tensor:
        b, c, fr, t = z.shape
        m = torch.view_as_real(z).permute(0, 1, 4, 2, 3)
        return m.reshape(b, c * 2, fr, t)

    def _mask(self, m: Tensor) -> Tensor:
        b, s, _, fr, t = m.shape
        out = m.float().view(b, s, -1, 2, fr, t).permute(0, 1, 2, 4, 5, 3)
        return torch.view_as_complex(out.contiguous())

    def _encode(self, x: Tensor, xt: Tensor) -> tuple[Tensor, Tensor, _Skips]:
        """Both encoders; the time branch's last layer is injected into the frequency branch."""
        skips = _Skips([], [], [], [])
        for idx, encode in enumerate(self.encoder):
            skips.lengths.append(x.shape[-1])
            inject = None
            if self.hybrid and idx < len(self.tencoder):
                skips.lengths_t.append(xt.shape[-1])
                tenc = self.tencoder[idx]
                xt = tenc(xt)
                if not tenc.empty:
                    skips.saved_t.append(xt)
                else:
                    inject = xt
            x = encode(x, inject)
            if idx == 0 and self.freq_emb is not None:
                # frequency embedding breaks the convolutions' equivariance over frequency
                frs = torch.arange(x.shape[-2], device=x.device)
                emb = self.freq_emb(frs).t()[None, :, :, None].expand_as(x)
                x = x + self.freq_emb_scale * emb
            skips.saved.append(x)
        return x, xt, skips

    def _decode(self, x: Tensor, xt: Tensor, skips: _Skips) -> tuple[Tensor, Tensor]:
        offset = self.depth - len(self.tdecoder)
        for idx, decode in enumerate(self.decoder):
            x, pre = decode(x, skips.saved.pop(-1), skips.lengths.pop(-1))
            if self.hybrid and idx >= offset:
                tdec = self.tdecoder[idx - offset]
                length_t = skips.lengths_t.pop(-1)
                if tdec.empty:
                    xt, _ = tdec(pre[:, :, 0], None, length_t)
                else:
                    xt, _ = tdec(xt, skips.saved_t.pop(-1), length_t)
        return x, xt


class _Skips(NamedTuple):
    saved: list[Tensor]
    saved_t: list[Tensor]
    lengths: list[int]
    lengths_t: list[int]


def standardize(x: Tensor, dims: tuple[int, ...]) -> tuple[Tensor, Tensor, Tensor]:
    """`(x - mean) / (1e-5 + std)` over `dims`, with the mean and std to restore it."""
    mean = x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True)
    return (x - mean) / (1e-5 + std), mean, std


class HTDemucs(HybridUNet):
    """`(batch, audio_channels, time)` -> `(batch, sources, audio_channels, time)`."""

    def __init__(self, params: HTDemucsParams) -> None:
        super().__init__()
        p = params
        self.params = p
        self.sources = p.sources
        self.audio_channels = p.audio_channels
        self.depth = p.depth
        self._init_stft(p)
        self.num_subbands = p.num_subbands
        self.bottom_channels = p.bottom_channels
        self.use_train_segment = p.use_train_segment
        self.training_length = p.chunk_size

        dconv_kw = {"depth": float(p.dconv_depth), "compress": p.dconv_comp, "init": p.dconv_init}
        self._build_unets(p, subbands=p.num_subbands, time_branch=True, dconv_kw=lambda _: dconv_kw)

        transformer_channels = int(p.channels * p.growth ** (p.depth - 1))
        if p.bottom_channels:
            self.channel_upsampler = nn.Conv1d(transformer_channels, p.bottom_channels, 1)
            self.channel_downsampler = nn.Conv1d(p.bottom_channels, transformer_channels, 1)
            self.channel_upsampler_t = nn.Conv1d(transformer_channels, p.bottom_channels, 1)
            self.channel_downsampler_t = nn.Conv1d(p.bottom_channels, transformer_channels, 1)
            transformer_channels = p.bottom_channels
        self.crosstransformer: CrossTransformerEncoder | None = None
        if p.t_layers > 0:
            self.crosstransformer = CrossTransformerEncoder(transformer_channels, p)

    def forward(self, mix: Tensor) -> Tensor:
        length = mix.shape[-1]
        length_pre_pad = None
        if self.use_train_segment and length < self.training_length:
            length_pre_pad = length
            mix = F.pad(mix, (0, self.training_length - length))
            length = self.training_length
        z = self._spec(mix)
        x = self._magnitude(z)
        k = self.num_subbands
        if k > 1:
            b, c, f, t = x.shape
            x = x.reshape(b, c, k, f // k, t).reshape(b, c * k, f // k, t)
        batch, _, fq, frames = x.shape

        # both branches are normalized per chunk; the statistics are restored at the end
        x, mean, std = standardize(x, (1, 2, 3))
        xt, meant, stdt = standardize(mix, (1, 2))
        x, xt, skips = self._encode(x, xt)

        if self.crosstransformer is not None:
            if self.bottom_channels:
                b, c, f, t = x.shape
                x = self.channel_upsampler(x.reshape(b, c, f * t)).view(b, -1, f, t)
                xt = self.channel_upsampler_t(xt)
            x, xt = self.crosstransformer(x, xt)
            if self.bottom_channels:
                b, c, f, t = x.shape
                x = self.channel_downsampler(x.reshape(b, c, f * t)).view(b, -1, f, t)
                xt = self.channel_downsampler_t(xt)

        x, xt = self._decode(x, xt, skips)

        n_sources = len(self.sources)
        if k > 1:
            x = x.view(batch, -1, fq, frames)
            b, c, f, t = x.shape
            x = x.reshape(b, c // k, k, f, t).reshape(b, c // k, f * k, t)
        x = x.view(batch, n_sources, -1, fq * k, frames)
        x = x * std[:, None] + mean[:, None]
        x = self._ispec(self._mask(x), length)

        xt = xt.view(batch, n_sources, -1, length)
        xt = xt * stdt[:, None] + meant[:, None]
        out = xt + x
        if length_pre_pad is not None:
            out = out[..., :length_pre_pad]
        return out


class BagOfModels(nn.Module):
    """Several models with per-source weights: `sum_m w[m, s] out_m[s] / sum_m w[m, s]`."""

    def __init__(self, params: Any, member: Callable[[Any], nn.Module] | None = None) -> None:
        super().__init__()
        assert params.bag_weights is not None
        single = params.model_copy(update={"bag_weights": None})
        make = member or HTDemucs
        self.models = nn.ModuleList(make(single) for _ in params.bag_weights)
        weights = torch.tensor(params.bag_weights, dtype=torch.float32)
        # normalized here so that the forward is one weighted sum
        self.register_buffer(
            "weights", weights / weights.sum(dim=0, keepdim=True), persistent=False
        )

    def forward(self, mix: Tensor) -> Tensor:
        out: Tensor | None = None
        weights = self.weights
        assert isinstance(weights, Tensor)
        for model, row in zip(self.models, weights, strict=True):
            mask = row != 0
            # a model with weight 0 on every source contributes nothing: skip it
            if not bool(mask.any()):
                continue
            est = model(mix) * row.to(mix.dtype)[None, :, None, None]
            out = est if out is None else out + est
        assert out is not None
        return out


def build_model(params: HTDemucsParams) -> nn.Module:
    """The model factory named by the architecture spec."""
    if params.bag_weights is None:
        return HTDemucs(params)
    return BagOfModels(params)


class StemSubset(nn.Module):
    """Keeps the sources at `indices` of the wrapped network's output (in that order)."""

    def __init__(self, network: nn.Module, indices: list[int]) -> None:
        super().__init__()
        self.network = network
        self.indices = indices

    def forward(self, mix: Tensor) -> Tensor:
        out: Tensor = self.network(mix)
        return out[:, self.indices]


def select_stems(
    network: nn.Module, params: HTDemucsParams | HDemucsParams, stems: tuple[str, ...]
) -> tuple[nn.Module, tuple[str, ...]]:
    """The architecture's stem selection: a bag drops the models no requested stem needs.

    In `htdemucs_ft` every model serves one source, so asking for vocals runs one model of four.
    """
    unknown = [s for s in stems if s not in params.sources]
    if unknown:
        raise ValueError(f"unknown stems {unknown}; the model has {list(params.sources)}")
    indices = [params.sources.index(s) for s in stems]
    if isinstance(network, BagOfModels):
        weights = network.weights
        assert isinstance(weights, Tensor)
        selected = weights[:, indices]
        keep = [m for m in range(selected.shape[0]) if bool((selected[m] != 0).any())]
        network.models = nn.ModuleList(network.models[m] for m in keep)
        full = torch.zeros_like(weights[keep])
        full[:, indices] = selected[keep]
        network.weights = full
    return StemSubset(network, indices), tuple(stems)
