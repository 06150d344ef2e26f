"""Basic Pitch weights: the published ONNX graph, `basic_pitch/saved_models/icassp_2022/nmp.onnx`.

An ONNX file is a protobuf message (the graph and its initializers), parsed by onnxruntime;
nothing in it is executed as Python, so no unpickler is involved.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from splifft_core.checkpoint import attach_onnx
from splifft_plugin_basic_pitch.network import BasicPitchOnnx

if TYPE_CHECKING:
    from pydantic import BaseModel
    from torch import nn


def load_checkpoint(network: nn.Module, params: BaseModel, paths: list[Path]) -> None:
    """Attach an onnxruntime session of the one `.onnx` in `paths` to `network`."""
    attach_onnx(network, paths, BasicPitchOnnx, "Basic Pitch")
