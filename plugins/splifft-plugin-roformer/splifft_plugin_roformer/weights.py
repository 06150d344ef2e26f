"""Checkpoint key mapping and stem selection for the roformers and conformers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from splifft_core.errors import CheckpointError, ConfigError

if TYPE_CHECKING:
    from torch import Tensor, nn

    from splifft_plugin_roformer.params import _BandSplitParams, _ConformerParams, _RoformerParams

WRAPPER_PREFIXES = ("module.", "model.", "_orig_mod.")
"""Prefixes added by DataParallel / DDP, Lightning-style wrappers and `torch.compile`."""

_BLOCK_KEY = re.compile(r"^layers\.(\d+)\.(\d+)\.(.*)$")


def _strip_prefixes(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if state_dict and all(k.startswith(prefix) for k in state_dict):
                state_dict = {k[len(prefix) :]: v for k, v in state_dict.items()}
                changed = True
    return state_dict


def checkpoint_transform(
    state_dict: dict[str, Tensor], params: _RoformerParams
) -> dict[str, Tensor]:
    """Map foreign key layouts onto ours (which is MSST's).

    - wrapper prefixes (`module.`, `model.`, `_orig_mod.`) are stripped;
    - lucidrains' Mel-Band RoFormer keeps an empty slot for the linear transformer when
      `linear_transformer_depth = 0`, so its time / freq transformers sit at `layers.i.1` /
      `layers.i.2` instead of `layers.i.0` / `layers.i.1`.
    """
    state_dict = _strip_prefixes(dict(state_dict))
    if params.linear_transformer_depth == 0:
        slots = {int(m.group(2)) for k in state_dict if (m := _BLOCK_KEY.match(k))}
        if slots == {1, 2}:
            shifted: dict[str, Tensor] = {}
            for key, value in state_dict.items():
                match = _BLOCK_KEY.match(key)
                if match:
                    block, slot, rest = match.groups()
                    key = f"layers.{block}.{int(slot) - 1}.{rest}"
                shifted[key] = value
            state_dict = shifted
    if not any(k.startswith("band_split.") for k in state_dict):
        raise CheckpointError("not a roformer checkpoint: it has no 'band_split.' weights")
    refiner_depth: int = getattr(params, "mask_estimator_refiner_depth", 0)
    if refiner_depth:
        state_dict = _add_refiner_rotary(state_dict, params, refiner_depth)
    return state_dict


def _add_refiner_rotary(
    state_dict: dict[str, Tensor], params: _RoformerParams, depth: int
) -> dict[str, Tensor]:
    """Fill in the large-v2 refiner's rotary frequencies where a checkpoint lacks them (splifft
    0.0.9 computes them, so its exports may not store them); they are fixed, never trained."""
    from splifft_plugin_roformer.network import REFINER_DIM_HEAD, RotaryEmbedding

    freqs = RotaryEmbedding(REFINER_DIM_HEAD).freqs.detach()
    for stem in range(len(params.output_stem_names)):
        for layer in range(depth):
            for axis in (0, 1):
                key = f"mask_estimators.{stem}.layers.{layer}.{axis}.layers.0.0.rotary_embed.freqs"
                state_dict.setdefault(key, freqs.clone())
    return state_dict


def conformer_checkpoint_transform(
    state_dict: dict[str, Tensor], params: _ConformerParams
) -> dict[str, Tensor]:
    """Strip wrapper prefixes (MSST's conformer layout is ours)."""
    state_dict = _strip_prefixes(dict(state_dict))
    if not any(k.startswith("band_split.") for k in state_dict):
        raise CheckpointError("not a conformer checkpoint: it has no 'band_split.' weights")
    return state_dict


def select_stems(
    network: nn.Module, params: _BandSplitParams, stems: tuple[str, ...]
) -> tuple[nn.Module, tuple[str, ...]]:
    """Run only the mask estimators of `stems` (the others stay loaded but idle)."""
    from splifft_plugin_roformer.network import Roformer

    if not isinstance(network, Roformer):
        raise TypeError(f"expected a roformer network, got {type(network).__name__}")
    names = params.output_stem_names
    unknown = [s for s in stems if s not in names]
    if unknown or not stems:
        raise ConfigError(f"unknown stems {unknown}: this model outputs {list(names)}")
    network.active_stems = tuple(names.index(s) for s in stems)
    return network, tuple(stems)
