"""splifft plugin: MDX-Net (KUIELab's TFC-TDF-U-Net, MDX 2021) models of Ultimate Vocal Remover.

Importing this module stays torch-free: the chunk model (STFT, the UVR ONNX graph run by
onnxruntime, ISTFT) lives in `splifft_plugin_mdxnet.network`, the loader in
`splifft_plugin_mdxnet.checkpoint`, the UVR import in `splifft_plugin_mdxnet.uvr`, named by
import path.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_mdxnet.params import MdxNetParams

SPEC = ArchitectureSpec(
    name="mdxnet",
    params_model=MdxNetParams,
    model_factory="splifft_plugin_mdxnet.network:build",
    checkpoint_loader="splifft_plugin_mdxnet.checkpoint:load_checkpoint",
    uvr_suffixes=(".onnx",),
    uvr_import="splifft_plugin_mdxnet.uvr:import_uvr",
    description="MDX-Net (KUIELab): a TFC-TDF-U-Net on a complex spectrogram, one stem per "
    "model; UVR's ONNX graphs via onnxruntime, the other stem as mixture minus it.",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC]


__all__ = ["SPEC", "MdxNetParams", "splifft_architectures"]
