"""Our separator against golden outputs of MSST's own `Segm_Models_Net` (`models/segm_models.py`)."""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("segmentation_models_pytorch")

import splifft_plugin_segm_models
import torch
from splifft_plugin_segm_models import SPEC
from splifft_plugin_segm_models.msst import import_msst
from splifft_plugin_segm_models.network import SegmModels, build, select_stems
from splifft_plugin_segm_models.params import SegmModelsParams

from splifft_core.testing import check_msst_golden

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_PATHS = sorted(FIXTURES.glob("segm_models_*.pt"))
RELATIVE_TOLERANCE = 1e-4


def load_fixture(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = torch.load(path, weights_only=True)
    return fixture


def tolerance(expected: torch.Tensor) -> float:
    """1e-4 of the reference output's scale."""
    return RELATIVE_TOLERANCE * float(expected.abs().max())


def network_for(msst_config: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> SegmModels:
    params = SegmModelsParams.model_validate(import_msst(msst_config)["params"])
    network = build(params).eval()
    network.load_state_dict(state_dict, strict=True)
    return network


def test_fixtures_present() -> None:
    assert len(FIXTURE_PATHS) >= 2
    assert all(path.stat().st_size < 1_000_000 for path in FIXTURE_PATHS)


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_msst_state_dict_loads_strictly(path: Path) -> None:
    """MSST's module tree (`first_conv`, `unet_model`, `final_conv`) is ours, key for key."""
    fixture = load_fixture(path)
    params = SegmModelsParams.model_validate(import_msst(fixture["msst_config"])["params"])
    ours = build(params).state_dict()
    theirs = fixture["state_dict"]
    assert list(ours) == list(theirs)
    assert all(ours[key].shape == theirs[key].shape for key in ours)


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_matches_golden_output(path: Path) -> None:
    fixture = load_fixture(path)
    network = network_for(fixture["msst_config"], fixture["state_dict"])
    frames = fixture["input"].shape[-1] // network.params.hop_length + 1
    assert frames >= 100
    with torch.no_grad():
        ours = network(fixture["input"])
    expected = fixture["output"]
    assert ours.shape == expected.shape
    assert (ours - expected).abs().max().item() <= tolerance(expected)


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_core_matches_golden_output(path: Path) -> None:
    """From an MSST-style `.ckpt` (all stems, the last alone), and the `import-msst` round trip."""
    fixture = load_fixture(path)
    manifest = check_msst_golden(
        SPEC,
        fixture,
        plugin=splifft_plugin_segm_models,
        tolerance=tolerance(fixture["output"]),
    )
    assert manifest.inference.chunk_layout == "msst"


def test_stem_selection_keeps_the_asked_stems() -> None:
    fixture = load_fixture(FIXTURES / "segm_models_unet_efficientnet.pt")
    network = network_for(fixture["msst_config"], fixture["state_dict"])
    pruned, stems = select_stems(network, network.params, ("other",))
    assert stems == ("other",)
    with torch.no_grad():
        out = pruned(fixture["input"])
    expected = fixture["output"][:, [1]]
    assert (out - expected).abs().max().item() <= tolerance(expected)


def test_stem_selection_rejects_unknown_stems() -> None:
    fixture = load_fixture(FIXTURE_PATHS[0])
    network = network_for(fixture["msst_config"], fixture["state_dict"])
    with pytest.raises(ValueError, match="unknown stems"):
        select_stems(network, network.params, ("piano",))


@pytest.mark.parametrize("samples", [1, 1000, 8129])
def test_any_length_is_padded_internally(samples: int) -> None:
    fixture = load_fixture(FIXTURES / "segm_models_unet_efficientnet.pt")
    network = network_for(fixture["msst_config"], fixture["state_dict"])
    with torch.no_grad():
        out = network(torch.randn(1, 2, samples))
    assert out.shape == (1, 2, 2, samples)
    assert torch.isfinite(out).all()


def fixture_generator() -> Any:
    """`fixtures/make_segm_models_fixtures.py`, imported by path: the reference is built as there."""
    name = "make_segm_models_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FIXTURES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_matches_live_reference(path: Path) -> None:
    """Rebuild MSST's model with fresh random weights (needs `SPLIFFT_MSST_ROOT`: a folder with
    MSST's exported `models/segm_models.py`)."""
    root = os.environ.get("SPLIFFT_MSST_ROOT")
    if not root or not (Path(root) / "models" / "segm_models.py").is_file():
        pytest.skip("SPLIFFT_MSST_ROOT does not hold MSST's models/segm_models.py")
    generator = fixture_generator()
    config = load_fixture(path)["msst_config"]
    torch.manual_seed(0)
    reference = generator.import_reference(Path(root))(generator.AttrDict(copy.deepcopy(config)))
    generator.perturb(reference)
    reference.eval()
    network = network_for(config, reference.state_dict())
    mixture = torch.randn(1, 2, config["audio"]["chunk_size"])
    with torch.no_grad():
        ours = network(mixture)
        expected = reference(mixture).reshape(ours.shape)
    assert (ours - expected).abs().max().item() <= tolerance(expected)
