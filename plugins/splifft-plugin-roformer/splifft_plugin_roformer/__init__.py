"""splifft plugin: BS-RoFormer (`bs_roformer`) and Mel-Band RoFormer (`mel_roformer`).

Torch-free at import: the networks live in `splifft_plugin_roformer.network` and are imported
only when a model is built.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_roformer.params import BSRoformerParams, MelRoformerParams

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


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [BS_ROFORMER, MEL_ROFORMER]
