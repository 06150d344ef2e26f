"""BandIt v1 (Watcharasupat et al. 2023), MSST's `model_type: bandit`.

Importing this module stays torch-free: the network lives in `splifft_plugin_bandit.v1.network`,
named by import path.
"""

from __future__ import annotations

from splifft_core.models import ArchitectureSpec
from splifft_plugin_bandit.v1.params import BanditParams

SPEC = ArchitectureSpec(
    name="bandit",
    params_model=BanditParams,
    model_factory="splifft_plugin_bandit.v1.network:build",
    archetype="waveform",
    checkpoint_transform="splifft_plugin_bandit.v1.weights:checkpoint_transform",
    msst_model_types=("bandit",),
    msst_import="splifft_plugin_bandit.v1.msst:import_msst",
    description=(
        "BandIt (v1): a shared band-split encoder (musical, mel or vox7 bands) and "
        "band-sequence RNN, one complex-mask decoder per stem (e.g. speech, music, effects)."
    ),
)

__all__ = ["SPEC", "BanditParams"]
