"""PESTO's Lightning-style checkpoints, read without running pickled code.

`pesto-pitch`'s `.ckpt` files are torch zip archives whose pickle holds `{"state_dict",
"hparams", "hcqt_params", …}`; `mir-1k_g7.ckpt`'s `hparams` are omegaconf containers (and
`typing.Any`, a `collections.defaultdict`), which `torch.load(weights_only=True)` refuses. They
are read here by an allowlisting unpickler: tensors are rebuilt from the archive's storages,
omegaconf's classes become inert stand-ins (their state is kept as plain data, omegaconf is
never imported), and any other global is refused. Only `state_dict` is used: the
hyperparameters are pinned in the manifests' `params`.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

import torch
from torch import Tensor

from splifft_core.checkpoint import load_into, read_state_dict, unwrap_state_dict
from splifft_core.errors import CheckpointError
from splifft_plugin_pesto.params import PestoParams

if TYPE_CHECKING:
    from pydantic import BaseModel
    from torch import nn

_STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}

_OMEGACONF = frozenset(
    {
        ("omegaconf.dictconfig", "DictConfig"),
        ("omegaconf.listconfig", "ListConfig"),
        ("omegaconf.nodes", "AnyNode"),
        ("omegaconf.nodes", "StringNode"),
        ("omegaconf.nodes", "IntegerNode"),
        ("omegaconf.nodes", "FloatNode"),
        ("omegaconf.nodes", "BooleanNode"),
        ("omegaconf.base", "Metadata"),
        ("omegaconf.base", "ContainerMetadata"),
    }
)


class InertObject:
    """A stand-in for an omegaconf object: takes any constructor arguments and keeps its
    pickled state as data; it has no behaviour."""

    state: Any = None

    def __new__(cls, *args: Any, **kwargs: Any) -> InertObject:
        return super().__new__(cls)

    def __setstate__(self, state: Any) -> None:
        self.state = state


class InertReference:
    """A stand-in for a type named as data (`typing.Any`, a node's `key_type`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


class _StorageType:
    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


def _plain_defaultdict(*args: Any) -> dict[Any, Any]:
    """`collections.defaultdict(factory)` as a plain dict (the factory is not kept)."""
    return {}


def _rebuild_tensor(
    storage: Tensor,
    offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    requires_grad: bool = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> Tensor:
    return storage.as_strided(tuple(size), tuple(stride), int(offset))


class AllowlistUnpickler(pickle.Unpickler):
    """Unpickles a torch zip archive's `data.pkl` admitting only tensors, plain containers and
    inert omegaconf stand-ins."""

    def __init__(self, file: IO[bytes], archive: zipfile.ZipFile, root: str, origin: str) -> None:
        super().__init__(file)
        self.archive = archive
        self.root = root
        self.origin = origin

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("collections", "defaultdict"):
            return _plain_defaultdict
        if module in ("builtins", "__builtin__") and name in ("dict", "list", "int", "long"):
            return InertReference(f"{module}.{name}")
        if (module, name) == ("typing", "Any"):
            return InertReference("typing.Any")
        if (module, name) in _OMEGACONF:
            return InertObject
        raise pickle.UnpicklingError(f"{self.origin}: refuses the pickled global {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"{self.origin}: unknown persistent id {pid!r}")
        kind, key = pid[1], str(pid[2])
        dtype = kind.dtype if isinstance(kind, _StorageType) else None
        if dtype is None:
            raise pickle.UnpicklingError(f"{self.origin}: unknown storage type {kind!r}")
        data = bytearray(self.archive.read(f"{self.root}/data/{key}"))
        if not data:
            return torch.empty(0, dtype=dtype)
        return torch.frombuffer(data, dtype=dtype)


def read_pesto_checkpoint(path: Path) -> dict[str, Tensor]:
    """The `state_dict` tensors of a PESTO `.ckpt` (a torch zip archive), safely."""
    origin = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint file not found") from None
    except zipfile.BadZipFile:
        raise CheckpointError(f"{path}: not a torch zip checkpoint") from None
    with archive:
        pickles = [n for n in archive.namelist() if PurePosixPath(n).name == "data.pkl"]
        if len(pickles) != 1:
            raise CheckpointError(f"{path}: not a torch zip checkpoint (no single data.pkl)")
        root = str(PurePosixPath(pickles[0]).parent)
        byteorder = f"{root}/byteorder"
        if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
            raise CheckpointError(f"{path}: big-endian checkpoints are not supported")
        try:
            with archive.open(pickles[0]) as f:
                raw = AllowlistUnpickler(f, archive, root, origin).load()
        except pickle.UnpicklingError as exc:
            raise CheckpointError(str(exc)) from None
        except (KeyError, ValueError, TypeError, EOFError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: not a loadable checkpoint ({exc})") from None
    return unwrap_state_dict(raw, origin)


def from_pesto(state: Mapping[str, Tensor], params: PestoParams) -> dict[str, Tensor]:
    """PESTO's key layout → ours: PESTO 1's `prefilt_layers.{i}.{param}` become
    `prefilt_layers.{i}.0.{param}`; the rest is already ours."""
    if not params.legacy_prefilter_keys:
        return dict(state)
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[:2] == ["encoder", "prefilt_layers"] and len(parts) == 4:
            key = ".".join([*parts[:3], "0", parts[3]])
        out[key] = value
    return out


def load_checkpoint(network: nn.Module, params: BaseModel, paths: Sequence[Path]) -> None:
    """The architecture's `checkpoint_loader`: one PESTO `.ckpt` (or a safetensors file of our
    own state dict)."""
    assert isinstance(params, PestoParams)
    if len(paths) != 1:
        raise CheckpointError(f"pesto: one checkpoint file expected, got {len(paths)}")
    path = Path(paths[0])
    state = read_pesto_checkpoint(path) if zipfile.is_zipfile(path) else read_state_dict(path)
    load_into(network, from_pesto(state, params), str(path))
