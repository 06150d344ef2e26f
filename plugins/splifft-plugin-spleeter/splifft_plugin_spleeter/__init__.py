"""splifft plugin: Spleeter (Hennequin et al., JOSS 2020), Deezer's U-Net separator.

Importing this module stays torch-free: the network lives in `splifft_plugin_spleeter.network`
and the checkpoint loader in `splifft_plugin_spleeter.checkpoint`, named by import path.

No stem selection: every stem's ratio mask divides by the sum over all stems' estimates, so every
U-Net runs whichever stems are asked for (the core then returns only those).
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_spleeter.params import SpleeterParams

SPEC = ArchitectureSpec(
    name="spleeter",
    params_model=SpleeterParams,
    model_factory="splifft_plugin_spleeter.network:build",
    archetype="waveform",
    checkpoint_loader="splifft_plugin_spleeter.checkpoint:load_checkpoint",
    description="Spleeter: one magnitude-spectrogram U-Net per stem, ratio masks, own STFT.",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC]


__all__ = ["SPEC", "SpleeterParams", "splifft_architectures"]
