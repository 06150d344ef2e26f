"""splifft plugin: Hybrid Transformer Demucs (HTDemucs v4, Rouard et al. 2023) and Hybrid
Demucs (v3, Défossez 2021).

Importing this module stays torch-free: the network lives in `splifft_plugin_demucs.network`
and the checkpoint reader in `splifft_plugin_demucs.checkpoint`, named by import path.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_demucs.params import HDemucsParams, HTDemucsParams

SPEC = ArchitectureSpec(
    name="htdemucs",
    params_model=HTDemucsParams,
    model_factory="splifft_plugin_demucs.network:build_model",
    archetype="waveform",
    checkpoint_transform="splifft_plugin_demucs.checkpoint:transform_checkpoint",
    checkpoint_loader="splifft_plugin_demucs.checkpoint:load_checkpoint",
    stem_selection="splifft_plugin_demucs.network:select_stems",
    msst_model_types=("htdemucs",),
    msst_import="splifft_plugin_demucs.msst:import_msst",
    description=(
        "Hybrid Transformer Demucs v4: waveform and spectrogram U-Nets joined by a "
        "cross-domain transformer; single models and bags of models."
    ),
)


HDEMUCS_SPEC = ArchitectureSpec(
    name="hdemucs",
    params_model=HDemucsParams,
    model_factory="splifft_plugin_demucs.hdemucs:build_model",
    archetype="waveform",
    checkpoint_transform="splifft_plugin_demucs.checkpoint:transform_checkpoint",
    checkpoint_loader="splifft_plugin_demucs.checkpoint:load_checkpoint",
    stem_selection="splifft_plugin_demucs.network:select_stems",
    msst_model_types=("hdemucs",),
    msst_import="splifft_plugin_demucs.msst:import_msst_hdemucs",
    description=(
        "Hybrid Demucs v3: waveform and spectrogram U-Nets with BiLSTM and local attention in "
        "the deepest residual branches (hdemucs_mmi, MSST hdemucs)."
    ),
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC, HDEMUCS_SPEC]


__all__ = [
    "HDEMUCS_SPEC",
    "SPEC",
    "HDemucsParams",
    "HTDemucsParams",
    "splifft_architectures",
]
