"""BandIt v2 (Watcharasupat et al. 2024): cinematic dialogue / music / effects separation.

Importing this module stays torch-free: the network lives in
`splifft_plugin_bandit.v2.network`, named by import path.
"""

from __future__ import annotations

from splifft_core.models import ArchitectureSpec
from splifft_plugin_bandit.v2.params import BanditV2Params

SPEC = ArchitectureSpec(
    name="bandit_v2",
    params_model=BanditV2Params,
    model_factory="splifft_plugin_bandit.v2.network:build",
    archetype="waveform",
    checkpoint_transform="splifft_plugin_bandit.v2.weights:checkpoint_transform",
    stem_selection="splifft_plugin_bandit.v2.network:select_stems",
    msst_model_types=("bandit_v2",),
    msst_import="splifft_plugin_bandit.v2.msst:import_msst",
    description=(
        "BandIt v2: overlapping musical bands, residual RNNs across time and bands, complex "
        "masks per stem; cinematic speech / music / sfx separation, each channel alone."
    ),
)

__all__ = ["SPEC", "BanditV2Params"]
