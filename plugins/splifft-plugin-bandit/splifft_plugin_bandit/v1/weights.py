"""Checkpoint key mapping for BandIt v1 (torch-free at import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from splifft_core.errors import CheckpointError

if TYPE_CHECKING:
    from torch import Tensor

    from splifft_plugin_bandit.v1.params import BanditParams

WRAPPER_PREFIXES = ("module.", "_orig_mod.", "model.")
"""DataParallel / DDP, `torch.compile`, and a Lightning system holding the network as `model`."""


def checkpoint_transform(state_dict: dict[str, Tensor], params: BanditParams) -> dict[str, Tensor]:
    """MSST's layout is ours (`stft.window`, `istft.window`, `bsrnn.*`); wrapper prefixes are
    stripped."""
    state_dict = dict(state_dict)
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if state_dict and all(k.startswith(prefix) for k in state_dict):
                state_dict = {k[len(prefix) :]: v for k, v in state_dict.items()}
                changed = True
    if not any(k.startswith("bsrnn.band_split.") for k in state_dict):
        raise CheckpointError(
            "not a BandIt v1 checkpoint: it has no 'bsrnn.band_split.' (band encoder) weights"
        )
    return state_dict
