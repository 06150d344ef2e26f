"""MDX-Net weights: one UVR `.onnx` graph, parsed by onnxruntime (a protobuf message; nothing
in it runs as Python, so no unpickler is involved)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from splifft_core.errors import CheckpointError
from splifft_plugin_mdxnet.network import MdxNetOnnx

if TYPE_CHECKING:
    from pydantic import BaseModel
    from torch import nn


def load_checkpoint(network: nn.Module, params: BaseModel, paths: list[Path]) -> None:
    """Attach an onnxruntime session of the one `.onnx` in `paths` to `network`."""
    if not isinstance(network, MdxNetOnnx):
        raise CheckpointError(f"expected an MdxNetOnnx network, got {type(network).__name__}")
    if len(paths) != 1:
        raise CheckpointError(f"MDX-Net takes one .onnx file, got {len(paths)}")
    path = Path(paths[0])
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        network.load_onnx(path)
    except ValueError as error:
        raise CheckpointError(str(error)) from error
    except Exception as error:  # onnxruntime's own errors (e.g. InvalidProtobuf)
        raise CheckpointError(f"{path}: not an MDX-Net ONNX graph ({error})") from error
