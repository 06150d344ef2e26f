"""Make torchvision importable where its compiled ops cannot load.

PyPI's Linux torchvision wheels are built against CUDA torch: with a CPU-only torch their `_C`
extension fails to load, and `import torchvision` then fails while registering fake kernels for
`torchvision::nms` and `torchvision::qnms`. segmentation_models_pytorch and timm use only
torchvision's pure-Python modules, so declaring those two operator schemas (no kernels) is
enough. Where the extension loads, nothing is declared.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

_LIBRARIES: list[torch.library.Library] = []


def _declared() -> bool:
    try:
        torch.ops.torchvision.nms  # noqa: B018  (raises when the operator is unknown)
    except (AttributeError, RuntimeError):
        return False
    return True


def _declare_torchvision_ops() -> None:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations or _declared():
        return
    folder = Path(next(iter(spec.submodule_search_locations)))
    for extension in sorted(folder.glob("_C.*")):
        try:
            torch.ops.load_library(str(extension))  # type: ignore[no-untyped-call]
            return
        except OSError:
            pass
    library = torch.library.Library("torchvision", "FRAGMENT")  # type: ignore[no-untyped-call]
    library.define(  # type: ignore[no-untyped-call]
        "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
    )
    library.define(  # type: ignore[no-untyped-call]
        "qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor"
    )
    _LIBRARIES.append(library)


_declare_torchvision_ops()
