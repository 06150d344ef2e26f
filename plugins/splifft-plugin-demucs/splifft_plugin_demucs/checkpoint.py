"""Reading Demucs checkpoints without running pickled code.

Demucs stores a model as a pickled *package* `{"klass", "args", "kwargs", "state", ...}` (`.th`);
`klass` is a reference to the model class, so `torch.load(weights_only=True)` refuses the file.
We load it with `weights_only=True` anyway, allowing exactly three extra globals: inert stand-ins
for demucs' model classes (never the classes themselves; a stand-in only records the name) and
`fractions.Fraction` (official packages store `segment` as one). Anything else a pickle asks for
(`os.system`, `builtins.eval`, …) is refused by torch's restricted unpickler.

demucs 4.1's Hugging Face export (`.safetensors` with `klass`, `args`, `kwargs` as json metadata)
and plain state dicts (MSST checkpoints) load too. A bag of models is one file per model,
loaded into `models.{m}.` of `network.BagOfModels`.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from splifft_core.checkpoint import load_into, unwrap_state_dict
from splifft_core.errors import CheckpointError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pydantic import BaseModel
    from torch import nn

    from splifft_plugin_demucs.params import HDemucsParams, HTDemucsParams


class DemucsClassRef:
    """Stand-in for a demucs model class named in a package; records the name, runs nothing."""

    qualname: str = ""


class HTDemucsRef(DemucsClassRef):
    qualname = "demucs.htdemucs.HTDemucs"


class HDemucsRef(DemucsClassRef):
    qualname = "demucs.hdemucs.HDemucs"


class DemucsRef(DemucsClassRef):
    qualname = "demucs.demucs.Demucs"


_CLASS_REFS: tuple[type[DemucsClassRef], ...] = (HTDemucsRef, HDemucsRef, DemucsRef)
SUPPORTED_CLASSES = ("demucs.htdemucs.HTDemucs", "demucs.hdemucs.HDemucs")


@dataclass
class DemucsPackage:
    """What a demucs checkpoint says: the model class, its init arguments and its weights."""

    klass: str | None
    """`module.Class` of the model, `None` for a bare state dict."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    args: tuple[Any, ...] = ()
    state: dict[str, Tensor] = field(default_factory=dict)


def _one_line(exc: BaseException) -> str:
    reason = " ".join(str(exc).split())
    return reason[:300] + "…" if len(reason) > 300 else reason


def _decode_fractions(value: Any) -> Any:
    # demucs 4.1's json metadata encodes Fraction as {"_type": "fraction", ...}
    if isinstance(value, dict):
        if value.get("_type") == "fraction":
            return Fraction(int(value["numerator"]), int(value["denominator"]))
        return {key: _decode_fractions(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode_fractions(item) for item in value]
    return value


def _read_safetensors(path: Path) -> DemucsPackage:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as file:
        metadata = file.metadata() or {}
        tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
    if "klass" not in metadata:
        return DemucsPackage(klass=None, state=unwrap_state_dict(tensors, str(path)))
    if "structure" in metadata:
        raise CheckpointError(f"{path}: quantized (diffq) demucs models are not supported")
    try:
        args = tuple(_decode_fractions(json.loads(metadata.get("args", "[]"))))
        kwargs = _decode_fractions(json.loads(metadata.get("kwargs", "{}")))
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: unreadable demucs metadata ({_one_line(exc)})") from None
    return DemucsPackage(klass=metadata["klass"], kwargs=kwargs, args=args, state=tensors)


def _read_pickle(path: Path) -> DemucsPackage:
    allowed: list[Any] = [(ref, ref.qualname) for ref in _CLASS_REFS]
    allowed.append(Fraction)
    try:
        with torch.serialization.safe_globals(allowed):
            raw = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint file not found") from None
    except pickle.UnpicklingError:  # torch's message would advise `weights_only=False`
        raise CheckpointError(
            f"{path}: not a plain-tensor checkpoint (it would run pickled code); refused"
        ) from None
    except Exception as exc:
        raise CheckpointError(
            f"{path}: refused to load (it is not a plain demucs package or state dict: "
            f"{_one_line(exc)})"
        ) from None
    if isinstance(raw, dict) and "klass" in raw and "state" in raw:
        klass = raw["klass"]
        if not (isinstance(klass, type) and issubclass(klass, DemucsClassRef)):
            raise CheckpointError(f"{path}: 'klass' is not a demucs model class")
        _check_class(klass.qualname, path)
        state = raw["state"]
        if not isinstance(state, dict) or state.get("__quantized"):
            raise CheckpointError(f"{path}: quantized (diffq) demucs models are not supported")
        kwargs = raw.get("kwargs") or {}
        if not isinstance(kwargs, dict):
            raise CheckpointError(f"{path}: 'kwargs' is not a dict")
        return DemucsPackage(
            klass=klass.qualname,
            kwargs=dict(kwargs),
            args=tuple(raw.get("args") or ()),
            state=unwrap_state_dict(state, str(path)),
        )
    return DemucsPackage(klass=None, state=unwrap_state_dict(raw, str(path)))


def _check_class(klass: str, path: Path) -> None:
    if klass not in SUPPORTED_CLASSES:
        raise CheckpointError(
            f"{path}: holds a {klass} model; this plugin runs only {', '.join(SUPPORTED_CLASSES)}"
        )


def read_package(path: str | Path) -> DemucsPackage:
    """Read a demucs package (`.th`), a demucs 4.1 safetensors export or a plain state dict."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    package = _read_safetensors(path) if path.suffix == ".safetensors" else _read_pickle(path)
    if package.klass is not None:
        _check_class(package.klass, path)
        if package.args:
            raise CheckpointError(f"{path}: positional model arguments are not supported")
    return package


def params_from_package(package: DemucsPackage) -> dict[str, Any]:
    """Our params (as a dict) from a package's kwargs: `HTDemucsParams(**result)` (or
    `HDemucsParams` for an HDemucs package) validates it."""
    out: dict[str, Any] = {}
    for key, value in package.kwargs.items():
        if isinstance(value, Fraction):
            value = float(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


# Keys whose value does not change the weights' layout or the inference maths.
_CLASS_OF = {
    "HTDemucsParams": "demucs.htdemucs.HTDemucs",
    "HDemucsParams": "demucs.hdemucs.HDemucs",
}
_NON_STRUCTURAL = {
    "t_weight_decay",
    "t_lr",
    "rescale",
    "t_cape_augment",
    "t_dropout",
    "end_iters",
    "t_mask_random_seed",
    "t_sparse_attn_window",
    "t_global_window",
    "t_sparsity",
    "t_mask_type",
    "multi_freqs_depth",
    "emb_smooth",
}


def _check_kwargs(
    package: DemucsPackage, params: HTDemucsParams | HDemucsParams, origin: str
) -> None:
    """Refuse a package whose own kwargs contradict the manifest's params."""
    from splifft_plugin_demucs.params import HDemucsParams

    expected = _CLASS_OF[type(params).__name__]
    if package.klass != expected:
        raise CheckpointError(
            f"{origin}: holds a {package.klass} model, the params describe a {expected}"
        )
    ours = params.model_dump()
    # HDemucs runs at any length: a bag's `segment` (hdemucs_mmi: 44 s) overrides the package's
    ignored = _NON_STRUCTURAL | ({"segment"} if isinstance(params, HDemucsParams) else set())
    for key, value in params_from_package(package).items():
        if key in ignored or key not in ours:
            continue
        mine = ours[key]
        if isinstance(mine, tuple):
            mine = list(mine)
        if isinstance(mine, float) or isinstance(value, float):
            same = value is not None and mine is not None and abs(float(mine) - value) < 1e-9
        else:
            same = mine == value or (mine in (None, []) and value in (None, []))
        if not same:
            raise CheckpointError(
                f"{origin}: the checkpoint was built with {key}={value!r}, the params say {mine!r}"
            )


def load_checkpoint(network: nn.Module, params: BaseModel, paths: Sequence[Path]) -> None:
    """The architecture's `checkpoint_loader`: one file per model of the bag, in bag order."""
    from splifft_plugin_demucs.params import HDemucsParams, HTDemucsParams

    assert isinstance(params, HTDemucsParams | HDemucsParams)
    if len(paths) != params.num_models:
        raise CheckpointError(
            f"htdemucs: expected {params.num_models} checkpoint file(s), got {len(paths)}"
        )
    state: dict[str, Tensor] = {}
    for index, path in enumerate(paths):
        package = read_package(path)
        if package.klass is not None:
            _check_kwargs(package, params, str(path))
        prefix = "" if params.bag_weights is None else f"models.{index}."
        state.update({prefix + key: value for key, value in package.state.items()})
    origin = ", ".join(str(p) for p in paths)
    # official packages are stored in half precision; the network computes in float32
    load_into(network, transform_checkpoint(state, params), origin)


def transform_checkpoint(state: dict[str, Tensor], params: BaseModel) -> dict[str, Tensor]:
    """Half-precision (official) weights become float32; keys are already ours."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
