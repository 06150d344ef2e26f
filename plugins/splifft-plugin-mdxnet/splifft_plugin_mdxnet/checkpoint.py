"""MDX-Net weights: one UVR `.onnx` graph, parsed by onnxruntime (a protobuf message; nothing
in it runs as Python, so no unpickler is involved)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from splifft_core.checkpoint import attach_onnx
from splifft_plugin_mdxnet.network import MdxNetOnnx

if TYPE_CHECKING:
    from pydantic import BaseModel
    from torch import nn


def load_checkpoint(network: nn.Module, params: BaseModel, paths: list[Path]) -> None:
    """Attach an onnxruntime session of the one `.onnx` in `paths` to `network`."""
    attach_onnx(network, paths, MdxNetOnnx, "MDX-Net")
