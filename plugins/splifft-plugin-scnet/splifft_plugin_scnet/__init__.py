"""splifft plugin: SCNet (Sparse Compression Network, Tong et al. 2024) and its MSST variants
`scnet_masked` and `scnet_tran`.

Importing this module stays torch-free: the networks live in `splifft_plugin_scnet.network`,
named by import path. The variants are architectures of their own since their checkpoints'
state-dict layouts differ from SCNet's (`pos_embed_f` and `mask_layer`; transformers with
rotary embeddings and an unused `first_conv`).
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_scnet.params import ScnetMaskedParams, ScnetParams, ScnetTranParams

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

MASKED_SPEC = ArchitectureSpec(
    name="scnet_masked",
    params_model=ScnetMaskedParams,
    model_factory="splifft_plugin_scnet.network:build_masked",
    archetype="waveform",
    stem_selection="splifft_plugin_scnet.network:select_stems",
    msst_model_types=("scnet_masked",),
    msst_import="splifft_plugin_scnet.msst:import_msst_masked",
    description="SCNet predicting a complex mask of the mixture's spectrum (Hann STFT).",
)

TRAN_SPEC = ArchitectureSpec(
    name="scnet_tran",
    params_model=ScnetTranParams,
    model_factory="splifft_plugin_scnet.network:build_tran",
    archetype="waveform",
    stem_selection="splifft_plugin_scnet.network:select_stems",
    msst_model_types=("scnet_tran",),
    msst_import="splifft_plugin_scnet.msst:import_msst_tran",
    description="SCNet with rotary-embedding transformers in place of the dual-path LSTMs.",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC, MASKED_SPEC, TRAN_SPEC]


__all__ = [
    "MASKED_SPEC",
    "SPEC",
    "TRAN_SPEC",
    "ScnetMaskedParams",
    "ScnetParams",
    "ScnetTranParams",
    "splifft_architectures",
]
