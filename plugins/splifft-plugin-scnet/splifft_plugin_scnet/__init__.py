"""splifft plugin: SCNet (Sparse Compression Network, Tong et al. 2024).

Importing this module stays torch-free: the network lives in `splifft_plugin_scnet.network`,
named by import path.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_scnet.params import ScnetParams

SPEC = ArchitectureSpec(
    name="scnet",
    params_model=ScnetParams,
    model_factory="splifft_plugin_scnet.network:build",
    archetype="waveform",
    stem_selection="splifft_plugin_scnet.network:select_stems",
    msst_model_types=("scnet",),
    msst_import="splifft_plugin_scnet.msst:import_msst",
    description="SCNet: sparse band down/up-sampling around a dual-path RNN, with its own STFT.",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC]


__all__ = ["SPEC", "ScnetParams", "splifft_architectures"]
