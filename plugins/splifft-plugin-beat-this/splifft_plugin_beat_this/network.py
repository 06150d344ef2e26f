"""The Beat This! network (`beat_this.model.beat_tracker.BeatThis`) with its log-mel front end.

Module names follow the reference so that its state dict (a checkpoint's `state_dict` without
the Lightning `model.` prefix) loads unchanged:

- `frontend.stem`: `bn1d` (over mel bands) → `conv2d` (1 → stem_dim, kernel 4×3, stride 4 in
  frequency) → `bn2d` → GELU;
- `frontend.blocks.{0,1,2}`: `partial` (a frequency-directed then a time-directed pre-norm
  transformer block, `attnF`/`ffF`/`attnT`/`ffT`) → `conv2d` (kernel 2×3, stride 2 in
  frequency, channels doubled) → `norm` → GELU;
- `frontend.linear`: channels × remaining bands → `transformer_dim`;
- `transformer_blocks`: `layers.{i}.0` gated attention, `layers.{i}.1` feed-forward, then
  `norm` (RMSNorm);
- `task_heads.beat_downbeat_lin`: two logits per frame; with the sum head the beat logit is
  beat + downbeat.

The rotary position embedding (rotary-embedding-torch's `RotaryEmbedding(head_dim)`, one
instance shared by every attention) is written here: adjacent feature pairs `(2i, 2i+1)` are
rotated by `position * freqs[i]`; `freqs` (`theta ** (-2i / head_dim)`) is a checkpoint entry
under each attention's `rotary_embed.freqs` and is loaded from it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from splifft_plugin_beat_this.logmel import LogMelSpect
from splifft_plugin_beat_this.params import BeatThisParams


class RotaryEmbedding(nn.Module):
    """Rotary position embedding over the second-to-last axis (the sequence)."""

    def __init__(self, dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        exponents = torch.arange(0, dim, 2)[: dim // 2].float() / dim
        # a parameter (never trained) so that the state dict matches the reference's
        self.freqs = nn.Parameter(1.0 / (theta**exponents), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        """`x`: `(..., seq, dim)`, rotated by position along `seq`."""
        positions = torch.arange(x.shape[-2], device=x.device, dtype=x.dtype)
        angles = positions[:, None] * self.freqs.to(x.dtype)[None, :]
        angles = torch.repeat_interleave(angles, 2, dim=-1)
        pairs = x.reshape(*x.shape[:-1], -1, 2)
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return x * angles.cos() + rotated * angles.sin()


class RMSNorm(nn.Module):
    """`normalize(x) * sqrt(size) * gamma` over the last axis."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.scale = size**0.5
        self.gamma = nn.Parameter(torch.ones(size))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = F.normalize(x, dim=-1) * self.scale * self.gamma
        return out


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        inner = dim * mult
        self.net = nn.Sequential(
            RMSNorm(dim),
            nn.Linear(dim, inner),
            nn.GELU(),
            nn.Dropout(0.0),
            nn.Linear(inner, dim),
            nn.Dropout(0.0),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        return out


class Attention(nn.Module):
    """Pre-norm multi-head self-attention with rotary queries and keys and per-head sigmoid
    gates (BS-RoFormer's)."""

    def __init__(self, dim: int, heads: int, dim_head: int, rotary_embed: RotaryEmbedding) -> None:
        super().__init__()
        self.heads = heads
        inner = heads * dim_head
        self.rotary_embed = rotary_embed
        self.norm = RMSNorm(dim)
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.to_gates = nn.Linear(dim, heads)
        self.to_out = nn.Sequential(nn.Linear(inner, dim, bias=False), nn.Dropout(0.0))

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(x)
        b, n, _ = x.shape
        # "b n (qkv h d) -> qkv b h n d"
        q, k, v = self.to_qkv(x).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q = self.rotary_embed(q)
        k = self.rotary_embed(k)
        out = F.scaled_dot_product_attention(q, k, v)
        gates = self.to_gates(x).transpose(1, 2).unsqueeze(-1).sigmoid()  # b h n 1
        out = (out * gates).transpose(1, 2).reshape(b, n, -1)
        result: Tensor = self.to_out(out)
        return result


class PartialFTTransformer(nn.Module):
    """`(b, c, f, t)`: a transformer block across frequencies, then one across time."""

    def __init__(self, dim: int, dim_head: int, rotary_embed: RotaryEmbedding) -> None:
        super().__init__()
        heads = dim // dim_head
        self.attnF = Attention(dim, heads, dim_head, rotary_embed)
        self.ffF = FeedForward(dim)
        self.attnT = Attention(dim, heads, dim_head, rotary_embed)
        self.ffT = FeedForward(dim)

    def forward(self, x: Tensor) -> Tensor:
        b, c, f, t = x.shape
        y = x.permute(0, 3, 2, 1).reshape(b * t, f, c)
        y = y + self.attnF(y)
        y = y + self.ffF(y)
        y = y.reshape(b, t, f, c).permute(0, 2, 1, 3).reshape(b * f, t, c)
        y = y + self.attnT(y)
        y = y + self.ffT(y)
        out: Tensor = y.reshape(b, f, t, c).permute(0, 3, 1, 2)
        return out


class _BandsFirst(nn.Module):
    """`(b, t, f)` → `(b, f, t)`."""

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(1, 2)


class _AddChannel(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.unsqueeze(1)


class _Concat(nn.Module):
    """`(b, c, f, t)` → `(b, t, c·f)`."""

    def forward(self, x: Tensor) -> Tensor:
        b, c, f, t = x.shape
        return x.permute(0, 3, 1, 2).reshape(b, t, c * f)


class Transformer(nn.Module):
    def __init__(
        self, dim: int, depth: int, dim_head: int, ff_mult: int, rotary_embed: RotaryEmbedding
    ) -> None:
        super().__init__()
        heads = dim // dim_head
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [Attention(dim, heads, dim_head, rotary_embed), FeedForward(dim, ff_mult)]
            )
            for _ in range(depth)
        )
        self.norm = RMSNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            assert isinstance(layer, nn.ModuleList)
            attn, ff = layer[0], layer[1]
            x = attn(x) + x
            x = ff(x) + x
        out: Tensor = self.norm(x)
        return out


class Heads(nn.Module):
    """Two logits per frame; with `sum_head` the beat logit is beat + downbeat."""

    def __init__(self, dim: int, sum_head: bool) -> None:
        super().__init__()
        self.sum_head = sum_head
        self.beat_downbeat_lin = nn.Linear(dim, 2)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        logits = self.beat_downbeat_lin(x)
        beat, downbeat = logits[..., 0], logits[..., 1]
        if self.sum_head:
            beat = beat.float() + downbeat.float()
        return {"beat": beat, "downbeat": downbeat}


class BeatThisNetwork(nn.Module):
    """Audio chunks `(batch, 1, chunk_size)` → `{"beat", "downbeat"}` logits `(batch, frames)`."""

    def __init__(self, params: BeatThisParams) -> None:
        super().__init__()
        self.params = params
        self.spect = LogMelSpect(params)
        rotary = RotaryEmbedding(params.head_dim, params.rotary_theta)
        stem = nn.Sequential()
        stem.add_module("rearrange_tf", _BandsFirst())
        stem.add_module("bn1d", nn.BatchNorm1d(params.spect_dim))
        stem.add_module("add_channel", _AddChannel())
        stem.add_module(
            "conv2d",
            nn.Conv2d(
                1, params.stem_dim, kernel_size=(4, 3), stride=(4, 1), padding=(0, 1), bias=False
            ),
        )
        stem.add_module("bn2d", nn.BatchNorm2d(params.stem_dim))
        stem.add_module("activation", nn.GELU())
        blocks = nn.Sequential()
        dim, bands = params.stem_dim, params.spect_dim // 4
        for i in range(3):
            block = nn.Sequential()
            block.add_module(
                "partial",
                PartialFTTransformer(dim, params.head_dim, rotary)
                if params.partial_transformers
                else nn.Identity(),
            )
            block.add_module(
                "conv2d",
                nn.Conv2d(
                    dim, dim * 2, kernel_size=(2, 3), stride=(2, 1), padding=(0, 1), bias=False
                ),
            )
            block.add_module("norm", nn.BatchNorm2d(dim * 2))
            block.add_module("activation", nn.GELU())
            blocks.add_module(str(i), block)
            dim, bands = dim * 2, bands // 2
        self.frontend = nn.Sequential()
        self.frontend.add_module("stem", stem)
        self.frontend.add_module("blocks", blocks)
        self.frontend.add_module("concat", _Concat())
        self.frontend.add_module("linear", nn.Linear(dim * bands, params.transformer_dim))
        self.transformer_blocks = Transformer(
            params.transformer_dim, params.n_layers, params.head_dim, params.ff_mult, rotary
        )
        self.task_heads = Heads(params.transformer_dim, params.sum_head)

    def forward_spect(self, spect: Tensor) -> dict[str, Tensor]:
        """Log-mel features `(batch, frames, spect_dim)` → logits (the reference's `forward`)."""
        x = self.frontend(spect)
        x = self.transformer_blocks(x)
        out: dict[str, Tensor] = self.task_heads(x)
        return out

    frame_positions = True
    """The engine passes where each chunk lies (`splifft_core.engine.stitch_frames`)."""

    def forward(
        self, audio: Tensor, first_frame: Tensor | None = None, track_frames: int | None = None
    ) -> dict[str, Tensor]:
        """Chunks → logits. With the chunks' positions, as the reference's spectrogram chunks:
        frames outside the track are zero features, and a chunk ends `chunk_border` frames past
        the track's last frame (a track shorter than a chunk runs as a shorter sequence)."""
        spect = self.spect(audio.mean(dim=1))
        if first_frame is None or track_frames is None:
            return self.forward_spect(spect)
        frames = spect.shape[1]
        index = first_frame[:, None] + torch.arange(frames, device=spect.device)
        outside = (index < 0) | (index >= track_frames)
        spect = spect.masked_fill(outside[..., None], 0.0)
        ends = (track_frames + self.params.chunk_border - first_frame).clamp(max=frames)
        if bool((ends == frames).all()):
            return self.forward_spect(spect)
        parts = [self.forward_spect(spect[i : i + 1, : int(end)]) for i, end in enumerate(ends)]
        out: dict[str, Tensor] = {}
        for name in parts[0]:
            padded = [
                torch.nn.functional.pad(p[name], (0, frames - p[name].shape[1])) for p in parts
            ]
            out[name] = torch.cat(padded)
        return out


def build(params: BeatThisParams) -> BeatThisNetwork:
    return BeatThisNetwork(params).eval()
