"""BS-RoFormer and Mel-Band RoFormer networks: `(b, c, t)` → `(b, stems, c, t)`.

Module names and nesting mirror Music-Source-Separation-Training's (MSST) so that community
checkpoints load with `strict=True`. The math is the same, arranged for speed: every linear layer
goes through `splifft_core.kernels.linear` (oneDNN on x86, with the GELU or the residual sum fused
into the matmul); attention goes through `scaled_dot_product_attention` along one axis of the
`(b, frames, bands, dim)` grid, so the axial transformers never transpose it, with q, k, v and the
gates from one projection; each RMSNorm's `√dim·γ` scales the weight of the linear layer that
follows it instead of every token; the mask MLPs compute tanh through a sigmoid and write their
GLU straight into the output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from splifft_core.kernels import linear
from splifft_core.stft import istft, make_window, stft
from splifft_plugin_roformer.params import (
    BSRoformerHyperAceParams,
    BSRoformerParams,
    MelRoformerParams,
    _BandSplitParams,
    _RoformerParams,
)


class RMSNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    @property
    def factor(self) -> Tensor:
        """`√dim · γ`, what multiplies the unit-normalised input."""
        factor: Tensor = self.gamma * self.scale
        return factor

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = F.normalize(x, dim=-1) * self.factor
        return out


def normalized_linear(
    unit: Tensor, norm: RMSNorm, layer: nn.Linear, activation: Literal["none", "gelu"] = "none"
) -> Tensor:
    """`activation(layer(norm(x)))` from `unit = F.normalize(x)`: the norm's factor scales the
    weight's columns instead of every token (one pass over the activations fewer)."""
    return linear(unit, layer.weight * norm.factor, layer.bias, activation=activation)


def residual_linear(residual: Tensor, x: Tensor, layer: nn.Linear) -> Tensor:
    """`residual + layer(x)`, the sum fused into the matmul where the kernel allows."""
    return linear(x, layer.weight, layer.bias, residual=residual)


def _split_last(x: Tensor, *sizes: int) -> Tensor:
    """Split the last axis into `sizes` (one may be -1)."""
    return x.reshape(*x.shape[:-1], *sizes)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding over interleaved feature pairs (`rotary-embedding-torch` 0.6)."""

    def __init__(self, dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
        # a frozen parameter, not a buffer: checkpoints carry it as `rotary_embed.freqs`
        self.freqs = nn.Parameter(inv_freq, requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        """Rotate `(..., seq, dim)` by position along `seq`.

        `x` may have any strides (pairs adjacent); the result is a new, contiguous tensor, the
        layout `scaled_dot_product_attention` reads fastest.
        """
        positions = torch.arange(x.shape[-2], device=x.device, dtype=torch.float32)
        angles = torch.outer(positions, self.freqs.float())
        # each feature pair (x1, x2) is a complex number rotated by its angle
        rotation = torch.polar(torch.ones_like(angles), angles)
        pairs = torch.view_as_complex(_split_last(x.float(), -1, 2))
        rotated = torch.empty(pairs.shape, dtype=pairs.dtype, device=pairs.device)
        torch.mul(pairs, rotation, out=rotated)
        return torch.view_as_real(rotated).flatten(-2).to(x.dtype)


class PoPE(nn.Module):
    """Polar position embedding (PoPE, `PoPE-pytorch` 0.2, as MSST's `use_pope` builds it).

    Each q/k feature `j` becomes a complex number of magnitude `softplus(x_j)` and phase
    `position · θ^(-j/dim)`; keys add a learned per-head phase bias, clamped to `[-2π, 0]`. The
    attention logits are the real parts of `q · conj(k)`, so q and k become `2·dim` real features.
    """

    inv_freqs: Tensor

    def __init__(self, dim: int, heads: int, theta: float = 10000.0) -> None:
        super().__init__()
        # unlike RoPE, one frequency per feature (not per pair); checkpoints carry the buffer
        self.register_buffer("inv_freqs", theta ** -(torch.arange(dim).float() / dim))
        self.bias = nn.Parameter(torch.zeros(heads, dim))

    def forward(self, q: Tensor, k: Tensor) -> tuple[Tensor, Tensor]:
        """`(..., heads, seq, dim)` q and k → their `(..., heads, seq, 2·dim)` real embeddings."""
        dtype = q.dtype if q.dtype == torch.float64 else torch.float32
        positions = torch.arange(q.shape[-2], device=q.device, dtype=dtype)
        angles = torch.outer(positions, self.inv_freqs.to(dtype))  # (seq, dim)
        key_angles = angles + self.bias.to(dtype).clamp(-2 * math.pi, 0.0).unsqueeze(1)

        def embed(x: Tensor, phase: Tensor) -> Tensor:
            magnitude = F.softplus(x.to(dtype))
            pairs = torch.stack([magnitude * phase.cos(), magnitude * phase.sin()], dim=-1)
            return pairs.flatten(-2).to(x.dtype)

        return embed(q, angles), embed(k, key_angles)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        inner = int(dim * mult)
        self.net = nn.Sequential(
            RMSNorm(dim),
            nn.Linear(dim, inner),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(inner, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        """`x + feedforward(x)` (inference: dropout is off)."""
        norm, project_in, _, _, project_out, _ = self.net
        assert isinstance(norm, RMSNorm) and isinstance(project_in, nn.Linear)
        assert isinstance(project_out, nn.Linear)
        hidden = normalized_linear(F.normalize(x, dim=-1), norm, project_in, "gelu")
        return residual_linear(x, hidden, project_out)


class Attention(nn.Module):
    """Multi-head self-attention with rotary (or PoPE) positions and a sigmoid gate per head.

    Runs on the `(b, frames, bands, dim)` grid along one axis, so the axial transformers
    never transpose the grid: only `scaled_dot_product_attention` sees strided views.
    """

    rotary_embed: RotaryEmbedding | None
    pope_embed: PoPE | None

    def __init__(
        self,
        dim: int,
        heads: int,
        dim_head: int,
        dropout: float,
        positions: RotaryEmbedding | PoPE,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.scale = dim_head**-0.5
        inner = heads * dim_head
        self.norm = RMSNorm(dim)
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.to_gates = nn.Linear(dim, heads)
        self.to_out = nn.Sequential(nn.Linear(inner, dim, bias=False), nn.Dropout(dropout))
        # shared by all layers of a stack; registered here too, as in MSST's checkpoints
        if isinstance(positions, PoPE):
            self.rotary_embed, self.pope_embed = None, positions
        else:
            self.rotary_embed, self.pope_embed = positions, None

    def projection(self) -> tuple[Tensor, Tensor]:
        """Weight and bias of `[to_qkv | to_gates]` applied to `F.normalize(x)`, as one matmul.

        The norm's factor scales the weight's columns; the rows are padded to an even count so
        that every q/k feature pair of the output stays viewable as a complex number.
        """
        qkv, gates = self.to_qkv.weight, self.to_gates.weight
        rows = qkv.shape[0] + gates.shape[0]
        weight = torch.cat([qkv, gates, qkv.new_zeros(rows % 2, qkv.shape[1])])
        bias = torch.cat([qkv.new_zeros(qkv.shape[0]), self.to_gates.bias, qkv.new_zeros(rows % 2)])
        return weight * self.norm.factor, bias

    def forward(self, x: Tensor, axis: int) -> Tensor:
        """`x + attention(x)` along `axis` (1 or 2) of `(b, n1, n2, dim)` (dropout is off)."""
        batch = x.shape[0]
        other = 3 - axis
        weight, bias = self.projection()
        projected = linear(F.normalize(x, dim=-1), weight, bias)
        qkv = projected[..., : self.to_qkv.out_features]
        gates = projected[..., qkv.shape[-1] : qkv.shape[-1] + self.heads].sigmoid()
        # (b, n1, n2, 3, h, d) → (3, b, other, h, seq, d), a view
        qkv = _split_last(qkv, 3, self.heads, -1).permute(3, 0, other, 4, axis, 5)
        if self.pope_embed is not None:
            q, k = (t.flatten(0, 1) for t in self.pope_embed(qkv[0], qkv[1]))
        else:
            assert self.rotary_embed is not None
            q, k = self.rotary_embed(qkv[:2]).flatten(1, 2)  # q and k rotated in one pass
        v = qkv[2].flatten(0, 1)
        # PoPE doubles the q/k width: the scale stays that of `dim_head`
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        out = out.view(batch, -1, *out.shape[1:])  # (b, other, h, seq, d)
        # gate each head and put it back onto the grid, (b, n1, n2, h, d), in one pass
        grid = out.new_empty(*x.shape[:3], self.heads, out.shape[-1])
        on_grid = grid.permute(0, 2, 3, 1, 4) if axis == 1 else grid.permute(0, 1, 3, 2, 4)
        torch.mul(out, gates.permute(0, other, 3, axis).unsqueeze(-1), out=on_grid)
        to_out = self.to_out[0]
        assert isinstance(to_out, nn.Linear)
        return residual_linear(x, grid.flatten(-2), to_out)


class LinearAttention(nn.Module):
    """Cross-covariance attention (El-Nouby et al., 2021): attends across features, not tokens."""

    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float, scale: float = 8.0):
        super().__init__()
        self.heads = heads
        self.scale = scale
        self.dropout = dropout
        inner = heads * dim_head
        self.norm = RMSNorm(dim)
        # index 0 of `to_out` (and 1 of `to_qkv`) held a weightless rearrange in the reference
        self.to_qkv = nn.Sequential(nn.Linear(dim, inner * 3, bias=False))
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.to_out = nn.Sequential(nn.Identity(), nn.Linear(inner, dim, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(x)
        # (b, n, 3·h·d) → 3 × (b, h, d, n): the d features of each head are the "tokens"
        q, k, v = _split_last(self.to_qkv(x), 3, self.heads, -1).permute(2, 0, 3, 4, 1)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        q = q * self.temperature.exp()
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, scale=self.scale
        )
        result: Tensor = self.to_out(out.permute(0, 3, 1, 2).flatten(-2))
        return result


class Transformer(nn.Module):
    def __init__(
        self,
        *,
        dim: int,
        depth: int,
        heads: int,
        dim_head: int,
        attn_dropout: float,
        ff_dropout: float,
        ff_mult: int = 4,
        norm_output: bool,
        rotary_embed: RotaryEmbedding | PoPE | None = None,
    ) -> None:
        """Full attention with `rotary_embed` (RoPE or PoPE); linear attention without."""
        super().__init__()
        self.layers = nn.ModuleList()
        for _ in range(depth):
            attn: nn.Module
            if rotary_embed is None:
                attn = LinearAttention(dim, heads, dim_head, attn_dropout)
            else:
                attn = Attention(dim, heads, dim_head, attn_dropout, rotary_embed)
            ff = FeedForward(dim, ff_mult, ff_dropout)
            self.layers.append(nn.ModuleList([attn, ff]))
        self.norm: nn.Module = RMSNorm(dim) if norm_output else nn.Identity()

    def forward(self, x: Tensor, axis: int = 1) -> Tensor:
        """Full attention: along `axis` of `(b, n1, n2, dim)`; linear attention: `(b, n, dim)`."""
        for layer in self.layers:
            attn, ff = cast(nn.ModuleList, layer)
            x = attn(x) + x if isinstance(attn, LinearAttention) else attn(x, axis)
            x = ff(x)
        out: Tensor = self.norm(x)
        return out


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


class BandSplit(nn.Module):
    """Per band: RMSNorm, then a linear map to `dim` (one oneDNN-sized matmul per band)."""

    def __init__(self, dim: int, dim_inputs: Sequence[int]) -> None:
        super().__init__()
        self.dim_inputs = tuple(dim_inputs)
        self.to_features = nn.ModuleList(
            nn.Sequential(RMSNorm(d), nn.Linear(d, dim)) for d in self.dim_inputs
        )

    def forward(self, x: Tensor) -> Tensor:
        """`(b, t, sum(dim_inputs))` → `(b, t, bands, dim)`."""
        outs: list[Tensor] = []
        offset = 0
        for features, d in zip(self.to_features, self.dim_inputs, strict=True):
            norm, layer = cast(nn.Sequential, features)
            assert isinstance(norm, RMSNorm) and isinstance(layer, nn.Linear)
            unit = F.normalize(x[..., offset : offset + d], dim=-1)
            outs.append(normalized_linear(unit, norm, layer))
            offset += d
        return torch.stack(outs, dim=2)


class MaskEstimator(nn.Module):
    """Per band: an MLP (tanh between layers) ending in a GLU, written into its output columns.

    One matmul per band and layer: each is large enough for the oneDNN kernel, and, unlike a
    batched matmul over zero-padded groups, nothing is computed for padding.
    """

    def __init__(
        self, dim: int, dim_inputs: Sequence[int], num_layers: int, mlp_expansion_factor: int
    ) -> None:
        super().__init__()
        self.dim_inputs = tuple(dim_inputs)
        hidden = dim * mlp_expansion_factor
        dims = (dim, *(hidden,) * (num_layers - 1))
        self.to_freqs = nn.ModuleList()
        for d in self.dim_inputs:
            mlp: list[nn.Module] = []
            for i, (d_in, d_out) in enumerate(zip(dims, (*dims[1:], 2 * d), strict=True)):
                mlp.append(nn.Linear(d_in, d_out))
                if i < len(dims) - 1:
                    mlp.append(nn.Tanh())
            self.to_freqs.append(nn.Sequential(nn.Sequential(*mlp), nn.GLU(dim=-1)))

    def forward(self, x: Tensor) -> Tensor:
        """`(b, t, bands, dim)` → `(b, t, sum(dim_inputs))`."""
        batch, frames, bands, dim = x.shape
        tokens = x.reshape(batch * frames, bands, dim)
        out: Tensor | None = None
        offset = 0
        for band, (net, d) in enumerate(zip(self.to_freqs, self.dim_inputs, strict=True)):
            *hidden_layers, last = _linears(net)
            h = tokens[:, band]
            for layer in hidden_layers:
                # tanh(z) = 2·sigmoid(2z) − 1: torch's CPU tanh costs about three sigmoids
                h = linear(h, layer.weight, layer.bias).mul_(2).sigmoid_().mul_(2).sub_(1)
            value_gate = linear(h, last.weight, last.bias)
            if out is None:
                out = value_gate.new_empty(batch * frames, sum(self.dim_inputs))
            torch.mul(
                value_gate[:, :d], value_gate[:, d:].sigmoid_(), out=out[:, offset : offset + d]
            )
            offset += d
        assert out is not None
        return out.view(batch, frames, -1)


REFINER_HEADS, REFINER_DIM_HEAD = 8, 64
"""The refiner's attention shape, fixed in unwa's large-v2 head whatever the roformer's."""


class RefinedMaskEstimator(MaskEstimator):
    """unwa's "large v2" mask head: axial time / frequency transformer layers (one of each per
    depth, own rotary embeddings, no output norms), an RMSNorm, then the per-band MLPs."""

    def __init__(
        self,
        dim: int,
        dim_inputs: Sequence[int],
        num_layers: int,
        mlp_expansion_factor: int,
        refiner_depth: int,
    ) -> None:
        super().__init__(dim, dim_inputs, num_layers, mlp_expansion_factor)
        time_rotary = RotaryEmbedding(REFINER_DIM_HEAD)
        freq_rotary = RotaryEmbedding(REFINER_DIM_HEAD)

        def transformer(rotary_embed: RotaryEmbedding) -> Transformer:
            return Transformer(
                dim=dim,
                depth=1,
                heads=REFINER_HEADS,
                dim_head=REFINER_DIM_HEAD,
                attn_dropout=0.0,
                ff_dropout=0.0,
                norm_output=False,
                rotary_embed=rotary_embed,
            )

        self.layers = nn.ModuleList(
            nn.ModuleList([transformer(time_rotary), transformer(freq_rotary)])
            for _ in range(refiner_depth)
        )
        self.norm = RMSNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        """`(b, t, bands, dim)` → `(b, t, sum(dim_inputs))`."""
        for block in self.layers:
            time, freq = cast(nn.ModuleList, block)
            x = time(x, axis=1)
            x = freq(x, axis=2)
        return super().forward(self.norm(x))


def mel_bands(sample_rate: int, n_fft: int, num_bands: int) -> np.ndarray:
    """Which STFT bins each mel band covers: `(num_bands, n_fft // 2 + 1)` booleans.

    The support of librosa's default (Slaney) mel filter bank, in float32 as librosa returns
    it, with the first bin of the first band and the last bin of the last band forced on as the
    reference implementation does.
    """
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0

    def hz_to_mel(hz: float) -> float:
        if hz >= min_log_hz:
            return min_log_mel + math.log(hz / min_log_hz) / logstep
        return hz / f_sp

    mels = np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), num_bands + 2)
    mel_f = f_sp * mels
    log_t = mels >= min_log_mel
    mel_f[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))
    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((num_bands, n_fft // 2 + 1), dtype=np.float32)
    for i in range(num_bands):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : num_bands + 2] - mel_f[:num_bands])
    weights *= enorm[:, np.newaxis]
    weights[0, 0] = 1.0
    weights[-1, -1] = 1.0
    support: np.ndarray = weights > 0
    return support


class Roformer(nn.Module):
    """Shared body: STFT → band split → axial blocks → per-stem masks → ISTFT.

    `band_indices` selects, for each band in order, its STFT bins (BS-RoFormer: each bin once,
    in order; Mel-Band RoFormer: overlapping). Masks of bins covered by several bands are averaged.
    `layers` holds, per depth, an optional linear-attention `Transformer` and the time and
    frequency stacks, each called as `stack(x, axis=...)` on the `(b, frames, bands, dim)` grid
    (`roformer_layers` builds the roformers'; the conformers bring their own).
    """

    window: Tensor
    freq_indices: Tensor
    bands_per_freq: Tensor

    def __init__(
        self,
        params: _BandSplitParams,
        band_sizes: Sequence[int],
        band_indices: Tensor,
        *,
        layers: nn.ModuleList,
        final_norm: bool,
        mask_layers: int,
    ) -> None:
        super().__init__()
        self.params = params
        self.channels = params.audio_channels
        self.skip_connection = params.skip_connection
        self.zero_dc = params.zero_dc
        self.stft_params = params.stft
        self.register_buffer("window", make_window(self.stft_params), False)

        # bins are interleaved with channels ("(f s)"), then real/imag ("(f c)")
        channels = self.channels
        indices = (band_indices.unsqueeze(-1) * channels + torch.arange(channels)).flatten()
        self.register_buffer("freq_indices", indices, False)
        counts = torch.bincount(indices, minlength=params.num_freqs * channels)
        # BS-RoFormer's bands take every bin once, in order: no gather, no mask averaging
        self.overlapping = not torch.equal(indices, torch.arange(len(counts)))
        if not bool((counts > 0).all()):
            raise ValueError("the bands leave some frequency bins uncovered")
        self.register_buffer("bands_per_freq", counts.float().unsqueeze(-1), False)
        dim_inputs = [2 * size * channels for size in band_sizes]

        self.layers = layers
        self.final_norm: nn.Module = RMSNorm(params.dim) if final_norm else nn.Identity()

        self.band_split = BandSplit(params.dim, dim_inputs)
        self.mask_estimators = nn.ModuleList(
            MaskEstimator(params.dim, dim_inputs, mask_layers, params.mlp_expansion_factor)
            for _ in range(params.stems)
        )
        self.active_stems: tuple[int, ...] = tuple(range(params.stems))
        """Indices of the mask estimators run by `forward` (see `select_stems`)."""

    def forward(self, audio: Tensor) -> Tensor:
        """`(b, c, t)` → `(b, len(active_stems), c, t)`."""
        batch, channels, length = audio.shape
        if channels != self.channels:
            raise ValueError(f"expected {self.channels} audio channels, got {channels}")
        # float64 stays float64 (reference checks); anything else runs in float32
        audio = audio if audio.dtype == torch.float64 else audio.float()
        spec = stft(audio, self.stft_params, self.window.to(audio.dtype))
        frames = spec.shape[-1]
        # (b, c, f, t) → (b, f·c, t): bins interleaved with channels
        spec = spec.transpose(1, 2).flatten(1, 2)

        selected = spec[:, self.freq_indices] if self.overlapping else spec
        x = torch.view_as_real(selected).permute(0, 2, 1, 3).flatten(2)  # (b, t, f·c·2)
        x = self.band_split(x)

        store: list[Tensor] = []
        bands, dim = x.shape[2], x.shape[3]
        for block in self.layers:
            *linear_attention, time, freq = cast(nn.ModuleList, block)
            if linear_attention:  # over all (frame, band) tokens at once
                x = linear_attention[0](x.flatten(1, 2)).reshape(batch, frames, bands, dim)
            if self.skip_connection:
                for previous in store:
                    x = x + previous
            x = time(x, axis=1)  # attention across frames, per band
            x = freq(x, axis=2)  # attention across bands, per frame
            if self.skip_connection:
                store.append(x)
        x = self.final_norm(x)

        masks = torch.stack([self.mask_estimators[i](x) for i in self.active_stems], dim=1)
        masks = masks.to(audio.dtype)  # under autocast: the complex math stays in float32
        masks = torch.view_as_complex(_split_last(masks, -1, 2).transpose(2, 3).contiguous())
        if self.overlapping:
            summed = masks.new_zeros(*masks.shape[:2], spec.shape[1], frames)
            summed.index_add_(2, self.freq_indices, masks)
            masks = summed / self.bands_per_freq.clamp(min=1e-8)

        out = spec.unsqueeze(1) * masks  # (b, s, f·c, t)
        stems = out.shape[1]
        out = out.reshape(batch, stems, -1, channels, frames).transpose(2, 3).flatten(0, 2)
        if self.zero_dc:
            out = out.index_fill(1, torch.tensor(0, device=out.device), 0.0)
        recon = istft(out, self.stft_params, length, self.window.to(audio.dtype))
        return recon.reshape(batch, stems, channels, length)


def roformer_layers(params: _RoformerParams, *, mel: bool) -> nn.ModuleList:
    """Per depth: [linear transformer], time transformer, frequency transformer."""

    def transformer(depth: int, rotary_embed: RotaryEmbedding | PoPE | None) -> Transformer:
        return Transformer(
            dim=params.dim,
            depth=depth,
            heads=params.heads,
            dim_head=params.dim_head,
            attn_dropout=params.attn_dropout,
            ff_dropout=params.ff_dropout,
            # BS-RoFormer normalizes once after all blocks, Mel-Band RoFormer after each
            norm_output=mel,
            rotary_embed=rotary_embed,
        )

    # one position embedding for all time transformers, one for all frequency transformers
    time_rotary: RotaryEmbedding | PoPE
    freq_rotary: RotaryEmbedding | PoPE
    if params.use_pope:
        time_rotary = PoPE(params.dim_head, params.heads)
        freq_rotary = PoPE(params.dim_head, params.heads)
    else:
        time_rotary = RotaryEmbedding(params.dim_head)
        freq_rotary = RotaryEmbedding(params.dim_head)
    layers = nn.ModuleList()
    for _ in range(params.depth):
        block: list[nn.Module] = []
        if params.linear_transformer_depth > 0:
            block.append(transformer(params.linear_transformer_depth, None))
        block.append(transformer(params.time_transformer_depth, time_rotary))
        block.append(transformer(params.freq_transformer_depth, freq_rotary))
        layers.append(nn.ModuleList(block))
    return layers


def build_bs_roformer(params: BSRoformerParams) -> Roformer:
    sizes = params.freqs_per_bands
    indices = torch.arange(sum(sizes))
    layers = roformer_layers(params, mel=False)
    network = Roformer(
        params,
        sizes,
        indices,
        layers=layers,
        final_norm=True,
        mask_layers=params.mask_estimator_depth,
    )
    if params.mask_estimator_refiner_depth > 0:
        network.mask_estimators = nn.ModuleList(
            RefinedMaskEstimator(
                params.dim,
                network.band_split.dim_inputs,
                params.mask_estimator_depth,
                params.mlp_expansion_factor,
                params.mask_estimator_refiner_depth,
            )
            for _ in range(params.stems)
        )
    return network


def build_mel_roformer(params: MelRoformerParams) -> Roformer:
    support = mel_bands(params.sample_rate, params.stft_n_fft, params.num_bands)
    sizes = [int(n) for n in support.sum(axis=1)]
    indices = torch.from_numpy(np.nonzero(support)[1]).long()
    layers = roformer_layers(params, mel=True)
    # MSST's mel variant gives its mask MLPs one more layer for the same `depth`
    return Roformer(
        params,
        sizes,
        indices,
        layers=layers,
        final_norm=False,
        mask_layers=params.mask_estimator_depth + 1,
    )


def build_bs_roformer_hyperace(params: BSRoformerHyperAceParams) -> Roformer:
    """BS-RoFormer whose mask estimators carry unwa's HyperACE residual."""
    from splifft_plugin_roformer.hyperace import HyperAceMaskEstimator, SegmModelHyperAce

    network = build_bs_roformer(params)
    dim_inputs = network.band_split.dim_inputs
    network.mask_estimators = nn.ModuleList(
        HyperAceMaskEstimator(
            params.dim,
            dim_inputs,
            params.mask_estimator_depth,
            params.mlp_expansion_factor,
            SegmModelHyperAce(
                dim=params.dim,
                bands=len(dim_inputs),
                target_bins=sum(dim_inputs) // 4,
                version=params.hyperace_version,
                num_hyperedges=params.hyperedges,
                num_heads=params.hyperace_heads,
            ),
        )
        for _ in range(params.stems)
    )
    return network
