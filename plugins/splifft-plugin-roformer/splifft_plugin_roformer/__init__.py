"""splifft plugin: BS-RoFormer (`bs_roformer`, with unwa's HyperACE heads `bs_roformer_hyperace`),
Mel-Band RoFormer (`mel_roformer`) and their conformer variants (`bs_conformer`,
`mel_band_conformer`).

Torch-free at import: the networks live in `splifft_plugin_roformer.network` and
`splifft_plugin_roformer.conformer` and are imported only when a model is built.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_roformer.params import (
    BSConformerParams,
    BSRoformerHyperAceParams,
    BSRoformerParams,
    MelConformerParams,
    MelRoformerParams,
)

BS_ROFORMER = ArchitectureSpec(
    name="bs_roformer",
    params_model=BSRoformerParams,
    model_factory="splifft_plugin_roformer.network:build_bs_roformer",
    archetype="waveform",
    checkpoint_transform="splifft_plugin_roformer.weights:checkpoint_transform",
    stem_selection="splifft_plugin_roformer.weights:select_stems",
    msst_model_types=("bs_roformer",),
    msst_import="splifft_plugin_roformer.msst:import_bs_roformer",
    description="Band-Split RoFormer (Lu et al., 2023): fixed frequency bands, axial transformers.",
)

BS_ROFORMER_HYPERACE = ArchitectureSpec(
    name="bs_roformer_hyperace",
    params_model=BSRoformerHyperAceParams,
    model_factory="splifft_plugin_roformer.network:build_bs_roformer_hyperace",
    archetype="waveform",
    checkpoint_transform="splifft_plugin_roformer.weights:checkpoint_transform",
    stem_selection="splifft_plugin_roformer.weights:select_stems",
    msst_model_types=("bs_roformer_hyperace_v1", "bs_roformer_hyperace_v2"),
    msst_import="splifft_plugin_roformer.msst:import_bs_roformer_hyperace",
    description=(
        "BS-RoFormer with unwa's HyperACE mask heads: per-band MLP masks plus a hypergraph "
        "segmentation network's residual (v1, v2)."
    ),
)

MEL_ROFORMER = ArchitectureSpec(
    name="mel_roformer",
    params_model=MelRoformerParams,
    model_factory="splifft_plugin_roformer.network:build_mel_roformer",
    archetype="waveform",
    checkpoint_transform="splifft_plugin_roformer.weights:checkpoint_transform",
    stem_selection="splifft_plugin_roformer.weights:select_stems",
    msst_model_types=("mel_band_roformer",),
    msst_import="splifft_plugin_roformer.msst:import_mel_band_roformer",
    description="Mel-Band RoFormer (Wang et al., 2023): overlapping mel-scale bands.",
)

BS_CONFORMER = ArchitectureSpec(
    name="bs_conformer",
    params_model=BSConformerParams,
    model_factory="splifft_plugin_roformer.conformer:build_bs_conformer",
    archetype="waveform",
    checkpoint_transform="splifft_plugin_roformer.weights:conformer_checkpoint_transform",
    stem_selection="splifft_plugin_roformer.weights:select_stems",
    msst_model_types=("bs_conformer",),
    msst_import="splifft_plugin_roformer.msst:import_bs_conformer",
    description="BS-Conformer (MSST): BS-RoFormer's fixed bands with axial conformer blocks.",
)

MEL_CONFORMER = ArchitectureSpec(
    name="mel_band_conformer",
    params_model=MelConformerParams,
    model_factory="splifft_plugin_roformer.conformer:build_mel_conformer",
    archetype="waveform",
    checkpoint_transform="splifft_plugin_roformer.weights:conformer_checkpoint_transform",
    stem_selection="splifft_plugin_roformer.weights:select_stems",
    msst_model_types=("mel_band_conformer",),
    msst_import="splifft_plugin_roformer.msst:import_mel_band_conformer",
    description="Mel-Band Conformer (MSST): mel-scale bands with axial conformer blocks.",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [BS_ROFORMER, BS_ROFORMER_HYPERACE, MEL_ROFORMER, BS_CONFORMER, MEL_CONFORMER]
