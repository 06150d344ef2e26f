"""Stem selection on networks whose last layer holds each stem's outputs side by side.

An architecture's `select_stems` (`ArchitectureSpec.select_stems`) keeps only the heads of the
stems asked for; where those heads are channel groups of one convolution, these two pieces do
the work: `stem_rows` names the output channels to keep, `keep_conv_outputs` builds the smaller
convolution with exactly those channels' weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def stem_rows(names: Sequence[str], stems: Sequence[str], width: int) -> list[int]:
    """The output channels of `stems` (in the order asked) in a layer that holds `width`
    channels per stem of `names`, stem after stem; `ValueError` names unknown stems."""
    unknown = [s for s in stems if s not in names]
    if unknown:
        raise ValueError(f"unknown stems {unknown}; this model outputs {list(names)}")
    return [list(names).index(s) * width + j for s in stems for j in range(width)]


def keep_conv_outputs(conv: nn.Conv2d, rows: Sequence[int]) -> nn.Conv2d:
    """A copy of `conv` with only the output channels `rows` (weights and bias)."""
    if conv.groups != 1:
        raise ValueError("keep_conv_outputs: grouped convolutions mix channels per group")
    pruned = nn.Conv2d(
        conv.in_channels,
        len(rows),
        conv.kernel_size,  # type: ignore[arg-type]
        conv.stride,  # type: ignore[arg-type]
        conv.padding,  # type: ignore[arg-type]
        conv.dilation,  # type: ignore[arg-type]
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
    ).to(conv.weight.device, conv.weight.dtype)
    with torch.no_grad():
        pruned.weight.copy_(conv.weight[list(rows)])
        if conv.bias is not None and pruned.bias is not None:
            pruned.bias.copy_(conv.bias[list(rows)])
    return pruned
