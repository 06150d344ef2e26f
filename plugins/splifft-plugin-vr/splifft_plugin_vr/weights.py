"""Checkpoint key mapping for VR models (torch-free at import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from splifft_core.errors import CheckpointError

if TYPE_CHECKING:
    from torch import Tensor

    from splifft_plugin_vr.params import VrParams


def checkpoint_transform(state_dict: dict[str, Tensor], params: VrParams) -> dict[str, Tensor]:
    """UVR's `.pth` is the bare network's state dict; ours holds it as `net` (a state dict of
    ours, already prefixed, passes unchanged)."""
    if any(k.startswith("net.stg1_low_band_net.") for k in state_dict):
        return state_dict
    if not any(k.startswith("stg1_low_band_net.") for k in state_dict):
        raise CheckpointError(
            "not a VR Architecture checkpoint: it has no 'stg1_low_band_net.' weights"
        )
    return {f"net.{k}": v for k, v in state_dict.items()}
