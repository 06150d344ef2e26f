"""Our MDX23C against the reference (MSST's `TFC_TDF_net` as vendored by audio-separator)."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import sys
import types
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from splifft_plugin_mdx23c import SPEC
from splifft_plugin_mdx23c.msst import import_msst
from splifft_plugin_mdx23c.network import Mdx23c, build, select_stems
from splifft_plugin_mdx23c.params import Mdx23cParams

from splifft_core.separator import Separator

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_PATHS = sorted(FIXTURES.glob("mdx23c_*.pt"))
TOLERANCE = 1e-4
REFERENCE_MODULE = "audio_separator.separator.uvr_lib_v5.tfc_tdf_v3"


def load_fixture(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = torch.load(path, weights_only=True)
    return fixture


def network_for(msst_config: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> Mdx23c:
    params = Mdx23cParams.model_validate(import_msst(msst_config)["params"])
    network = build(params).eval()
    network.load_state_dict(state_dict, strict=True)
    return network


def test_fixtures_present() -> None:
    assert len(FIXTURE_PATHS) >= 4


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_matches_golden_output(path: Path) -> None:
    fixture = load_fixture(path)
    network = network_for(fixture["msst_config"], fixture["state_dict"])
    with torch.no_grad():
        ours = network(fixture["input"])
    assert ours.shape == fixture["output"].shape
    assert (ours - fixture["output"]).abs().max().item() <= TOLERANCE


@pytest.mark.parametrize("path", FIXTURE_PATHS[:1], ids=lambda p: p.stem)
def test_stem_selection_keeps_the_asked_stems(path: Path) -> None:
    fixture = load_fixture(path)
    network = network_for(fixture["msst_config"], fixture["state_dict"])
    names = network.params.output_stem_names
    wanted = (names[-1],)
    pruned, stems = select_stems(network, network.params, wanted)
    assert stems == wanted
    with torch.no_grad():
        out = pruned(fixture["input"])
    expected = fixture["output"][:, [len(names) - 1]]
    assert (out - expected).abs().max().item() <= TOLERANCE


def test_stem_selection_rejects_unknown_stems() -> None:
    fixture = load_fixture(FIXTURE_PATHS[0])
    network = network_for(fixture["msst_config"], fixture["state_dict"])
    with pytest.raises(ValueError, match="unknown stems"):
        select_stems(network, network.params, ("piano",))


def _namespace(value: Any) -> Any:
    if isinstance(value, dict):
        return SimpleNamespace(**{k: _namespace(v) for k, v in value.items()})
    return value


def import_reference() -> Any:
    """audio-separator's `tfc_tdf_v3` without its package `__init__` (which needs librosa, …)."""
    loaded = sys.modules.get(REFERENCE_MODULE)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("audio_separator")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("audio-separator is not installed (it lives in a side venv)")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, folder in (
        ("audio_separator", root),
        ("audio_separator.separator", root / "separator"),
        ("audio_separator.separator.uvr_lib_v5", root / "separator" / "uvr_lib_v5"),
    ):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
    return importlib.import_module(REFERENCE_MODULE)


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_matches_live_reference(path: Path) -> None:
    """Rebuild the reference with fresh random weights (needs audio-separator: side venvs)."""
    reference_module = import_reference()
    config = load_fixture(path)["msst_config"]
    torch.manual_seed(0)
    reference = reference_module.TFC_TDF_net(_namespace(copy.deepcopy(config)), device="cpu")
    reference.eval()
    network = network_for(config, reference.state_dict())
    mixture = torch.randn(1, 2, config["audio"]["chunk_size"])
    with torch.no_grad():
        expected = reference(mixture).reshape(network(mixture).shape)
        ours = network(mixture)
    assert (ours - expected).abs().max().item() <= TOLERANCE


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_separator_model_matches_golden_output(path: Path, tmp_path: Path) -> None:
    """Through the core: an MSST-style `.ckpt` file, loaded strictly with `weights_only=True`."""
    fixture = load_fixture(path)
    checkpoint = tmp_path / "model.ckpt"
    torch.save(fixture["state_dict"], checkpoint)
    params = import_msst(fixture["msst_config"])["params"]
    separator = Separator.from_spec(SPEC, params, checkpoint)
    with torch.no_grad():
        ours = separator.model(fixture["input"])
    assert ours.shape == fixture["output"].shape
    assert (ours - fixture["output"]).abs().max().item() <= TOLERANCE


def test_separator_with_a_stem_subset() -> None:
    fixture = load_fixture(FIXTURE_PATHS[0])
    params = import_msst(fixture["msst_config"])["params"]
    wanted = params["output_stem_names"][-1]
    separator = Separator.from_spec(SPEC, params, fixture["state_dict"], stems=[wanted])
    with torch.no_grad():
        ours = separator.model(fixture["input"])
    expected = fixture["output"][:, [len(params["output_stem_names"]) - 1]]
    assert (ours - expected).abs().max().item() <= TOLERANCE


@pytest.mark.parametrize("samples", [1, 1000, 1985, 4000])
def test_any_length_is_padded_internally(samples: int) -> None:
    fixture = load_fixture(FIXTURE_PATHS[0])
    network = network_for(fixture["msst_config"], fixture["state_dict"])
    with torch.no_grad():
        out = network(torch.randn(1, 2, samples))
    assert out.shape == (1, len(network.params.output_stem_names), 2, samples)
    assert torch.isfinite(out).all()
