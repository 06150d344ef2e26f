"""Beat This! checkpoints: the authors' PyTorch Lightning `.ckpt` files, or a plain state dict.

A Lightning checkpoint is a dict of plain containers and tensors (`state_dict`,
`hyper_parameters`, optimizer states, …) that `torch.load(weights_only=True)` reads (the
reference reads it so too); the core's `read_state_dict` unwraps `state_dict`. Its keys carry
the LightningModule's `model.` prefix (and `_orig_mod.` for compiled models), removed here; the
rest are `BeatThis`'s own names, ours unchanged. No pickled code is executed.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from splifft_core.checkpoint import load_into, read_state_dict
from splifft_core.errors import CheckpointError
from splifft_plugin_beat_this.params import BeatThisParams


def beat_this_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Our keys from a checkpoint's: `model.` and `_orig_mod.` prefixes removed."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        name = key.removeprefix("model.").replace("_orig_mod.", "")
        out[name] = value
    return out


def load_checkpoint(network: nn.Module, params: BeatThisParams, paths: list[Path]) -> None:
    if len(paths) != 1:
        raise CheckpointError(f"Beat This! loads one checkpoint file, got {len(paths)}")
    path = paths[0]
    state = beat_this_state_dict(read_state_dict(path))
    load_into(network, state, str(path))
