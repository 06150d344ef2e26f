"""splifft plugin: UVR's VR Architecture (tsurumeso's vocal-remover) `.pth` models.

Importing this module stays torch-free: the network lives in `splifft_plugin_vr.network`,
named by import path.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_vr.params import VrParams

SPEC = ArchitectureSpec(
    name="vr",
    params_model=VrParams,
    model_factory="splifft_plugin_vr.network:build",
    archetype="waveform",
    checkpoint_transform="splifft_plugin_vr.weights:checkpoint_transform",
    uvr_suffixes=(".pth",),
    uvr_import="splifft_plugin_vr.uvr:import_uvr",
    description=(
        "UVR's VR Architecture: a multi-band magnitude spectrogram (UVR's model-param layouts), "
        "masked by cascaded ASPP or LSTM U-nets; the primary stem and its complement."
    ),
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC]


__all__ = ["SPEC", "VrParams", "splifft_architectures"]
