"""splifft plugin: Apollo (Li et al. 2024), band-sequence restoration of lossy-compressed music.

Importing this module stays torch-free: the network lives in `splifft_plugin_apollo.network`,
named by import path.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_apollo.params import ApolloParams

SPEC = ArchitectureSpec(
    name="apollo",
    params_model=ApolloParams,
    model_factory="splifft_plugin_apollo.network:build",
    archetype="waveform",
    checkpoint_transform="splifft_plugin_apollo.weights:checkpoint_transform",
    msst_model_types=("apollo",),
    msst_import="splifft_plugin_apollo.msst:import_msst",
    description=(
        "Apollo: 80-band STFT features, band-wise RoPE transformers and temporal convolutions "
        "restore lossy (e.g. MP3) music; one stem, `restored`."
    ),
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC]


__all__ = ["SPEC", "ApolloParams", "splifft_architectures"]
