"""Basic Pitch weights: the published ONNX graph, `basic_pitch/saved_models/icassp_2022/nmp.onnx`.

An ONNX file is a protobuf message (the graph and its initializers), parsed by onnxruntime;
nothing in it is executed as Python, so no unpickler is involved.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from splifft_core.errors import CheckpointError
from splifft_plugin_basic_pitch.network import BasicPitchOnnx

if TYPE_CHECKING:
    from pydantic import BaseModel
    from torch import nn


def load_checkpoint(network: nn.Module, params: BaseModel, paths: list[Path]) -> None:
    """Attach an onnxruntime session of the one `.onnx` in `paths` to `network`."""
    if not isinstance(network, BasicPitchOnnx):
        raise CheckpointError(f"expected a BasicPitchOnnx network, got {type(network).__name__}")
    if len(paths) != 1:
        raise CheckpointError(f"Basic Pitch takes one .onnx file, got {len(paths)}")
    path = Path(paths[0])
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        network.load_onnx(path)
    except ValueError as error:
        raise CheckpointError(str(error)) from error
    except Exception as error:  # onnxruntime's own errors (e.g. InvalidProtobuf)
        raise CheckpointError(f"{path}: not a Basic Pitch ONNX graph ({error})") from error
