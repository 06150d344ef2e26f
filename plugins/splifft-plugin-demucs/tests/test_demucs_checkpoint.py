"""Demucs packages load without executing pickled code; malicious pickles are refused."""

from __future__ import annotations

import os
import sys
import types
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import torch
from splifft_plugin_demucs.checkpoint import load_checkpoint, params_from_package, read_package
from splifft_plugin_demucs.network import build_model
from splifft_plugin_demucs.params import HTDemucsParams

from splifft_core.errors import CheckpointError

FIXTURES = Path(__file__).parent / "fixtures"


def reference() -> dict[str, Any]:
    data: dict[str, Any] = torch.load(FIXTURES / "demucs_four.pt", weights_only=True)
    return data


@pytest.mark.parametrize("file_name", ["demucs_four_package.th", "demucs_four.safetensors"])
def test_demucs_package_loads_and_computes(file_name: str) -> None:
    package = read_package(FIXTURES / file_name)
    assert package.klass == "demucs.htdemucs.HTDemucs"
    assert package.kwargs["segment"] == Fraction(4)
    params = HTDemucsParams(**params_from_package(package))
    data = reference()
    assert params == HTDemucsParams(**data["kwargs"])
    network = build_model(params)
    load_checkpoint(network, params, [FIXTURES / file_name])
    with torch.inference_mode():
        out = network.eval()(data["segment_input"])
    # the package holds half-precision weights (as official ones do): compare loosely
    assert out.shape == data["segment_output"].shape
    assert (out - data["segment_output"]).abs().max() < 5e-2 * data["segment_output"].abs().max()


def test_demucs_package_with_other_kwargs_is_refused() -> None:
    data = reference()
    params = HTDemucsParams(**{**data["kwargs"], "t_heads": 2})
    network = build_model(params)
    with pytest.raises(CheckpointError, match="t_heads=4"):
        load_checkpoint(network, params, [FIXTURES / "demucs_four_package.th"])


def test_demucs_bag_needs_one_file_per_model() -> None:
    data = reference()
    params = HTDemucsParams(**data["kwargs"], bag_weights=((1.0, 1, 1, 1), (1.0, 1, 1, 1)))
    network = build_model(params)
    with pytest.raises(CheckpointError, match="expected 2 checkpoint"):
        load_checkpoint(network, params, [FIXTURES / "demucs_four_package.th"])
    paths = [FIXTURES / "demucs_four_package.th", FIXTURES / "demucs_four.safetensors"]
    load_checkpoint(network, params, paths)
    first = network.state_dict()["models.0.encoder.0.conv.weight"]
    second = network.state_dict()["models.1.encoder.0.conv.weight"]
    torch.testing.assert_close(first, second)


def test_demucs_plain_state_dict_loads(tmp_path: Path) -> None:
    data = reference()
    path = tmp_path / "model.ckpt"
    torch.save(data["state"], path)
    params = HTDemucsParams(**data["kwargs"])
    network = build_model(params)
    load_checkpoint(network, params, [path])
    with torch.inference_mode():
        out = network.eval()(data["segment_input"])
    torch.testing.assert_close(out, data["segment_output"], atol=1e-4, rtol=0)


class _Exploit:
    """Pickles as a call to `os.system`: loading it must never run the command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_demucs_malicious_pickle_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = reference()
    path = tmp_path / "evil.th"
    package = {"klass": _Exploit(marker), "args": (), "kwargs": {}, "state": data["state"]}
    torch.save(package, path)
    refused = r"not a plain-tensor checkpoint \(it would run pickled code\); refused$"
    with pytest.raises(CheckpointError, match=refused) as error:
        read_package(path)
    assert not marker.exists()
    assert "weights_only" not in str(error.value)  # no advice to load it unsafely
    # nested anywhere (e.g. in training_args) is refused just the same
    torch.save({"state": data["state"], "training_args": [_Exploit(marker)]}, path)
    with pytest.raises(CheckpointError, match=refused):
        read_package(path)
    assert not marker.exists()


def save_as_demucs_class(path: Path, module: str, name: str, package: dict[str, Any]) -> None:
    """`torch.save` a package whose `klass` is `{module}.{name}`, without demucs installed."""
    parent = types.ModuleType("demucs")
    child = types.ModuleType(module)
    klass = type(name, (), {"__module__": module, "__qualname__": name})
    setattr(child, name, klass)
    saved = {k: sys.modules.get(k) for k in ("demucs", module)}
    sys.modules["demucs"], sys.modules[module] = parent, child
    try:
        torch.save({"klass": klass, "args": (), **package}, path)
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value


def test_demucs_other_model_classes_are_named(tmp_path: Path) -> None:
    path = tmp_path / "demucs_v2.th"
    save_as_demucs_class(path, "demucs.demucs", "Demucs", {"kwargs": {}, "state": {}})
    with pytest.raises(CheckpointError, match=r"demucs\.demucs\.Demucs"):
        read_package(path)


def test_demucs_hdemucs_package_needs_hdemucs_params(tmp_path: Path) -> None:
    from splifft_plugin_demucs.hdemucs import build_model as build_hdemucs
    from splifft_plugin_demucs.params import HDemucsParams

    kwargs: dict[str, Any] = {
        "sources": ["vocals", "other"],
        "samplerate": 256,
        "segment": 8,
        "channels": 4,
        "nfft": 512,
        "depth": 3,
        "dconv_comp": 2,
        "hybrid": False,
    }
    params = HDemucsParams(**kwargs)
    network = build_hdemucs(params)
    path = tmp_path / "hdemucs.th"
    package = {"kwargs": {**kwargs, "segment": Fraction(40)}, "state": network.state_dict()}
    save_as_demucs_class(path, "demucs.hdemucs", "HDemucs", package)
    assert read_package(path).klass == "demucs.hdemucs.HDemucs"
    # a bag's segment overrides HDemucs' own: not a contradiction
    load_checkpoint(build_hdemucs(params), params, [path])
    with pytest.raises(CheckpointError, match=r"the params describe a demucs\.htdemucs\.HTDemucs"):
        load_checkpoint(build_model(reference_params()), reference_params(), [path])


def reference_params() -> HTDemucsParams:
    return HTDemucsParams(**reference()["kwargs"])


def test_demucs_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        read_package(tmp_path / "absent.th")
