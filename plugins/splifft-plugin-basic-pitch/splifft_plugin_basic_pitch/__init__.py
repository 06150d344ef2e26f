"""splifft plugin: Basic Pitch (Bittner et al., ICASSP 2022), Spotify's note transcriber.

Importing this module stays torch-free: the network (the published ONNX graph run by
onnxruntime) lives in `splifft_plugin_basic_pitch.network`, the checkpoint loader in
`splifft_plugin_basic_pitch.checkpoint` and the note creation in
`splifft_plugin_basic_pitch.decode`, named by import path.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_basic_pitch.params import BasicPitchParams

SPEC = ArchitectureSpec(
    name="basic_pitch",
    params_model=BasicPitchParams,
    model_factory="splifft_plugin_basic_pitch.network:build",
    checkpoint_loader="splifft_plugin_basic_pitch.checkpoint:load_checkpoint",
    task="notes",
    decoder="splifft_plugin_basic_pitch.decode:decode",
    description="Basic Pitch: polyphonic notes, onsets and pitch contours from a small CNN "
    "on a harmonic CQT (ONNX graph via onnxruntime), Basic Pitch's note creation.",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC]


__all__ = ["SPEC", "BasicPitchParams", "splifft_architectures"]
