"""splifft plugin: MSST's segmentation-model separator (segmentation_models_pytorch decoders).

Importing this module stays torch-free: the network lives in `splifft_plugin_segm_models.network`,
named by import path.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_segm_models.params import SegmModelsParams

SPEC = ArchitectureSpec(
    name="segm_models",
    params_model=SegmModelsParams,
    model_factory="splifft_plugin_segm_models.network:build",
    archetype="waveform",
    stem_selection="splifft_plugin_segm_models.network:select_stems",
    msst_model_types=("segm_models",),
    msst_import="splifft_plugin_segm_models.msst:import_msst",
    description=(
        "MSST's segmentation-model separator: a segmentation_models_pytorch encoder-decoder "
        "(U-Net, FPN, …) on sub-band complex spectrograms, with its own STFT."
    ),
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC]


__all__ = ["SPEC", "SegmModelsParams", "splifft_architectures"]
