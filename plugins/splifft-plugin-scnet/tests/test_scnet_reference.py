"""Our SCNet against golden outputs of the reference (MSST's `models/scnet`, random weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import splifft_plugin_scnet
import torch
from splifft_plugin_scnet import SPEC
from splifft_plugin_scnet.msst import import_msst
from splifft_plugin_scnet.network import Scnet, build, select_stems
from splifft_plugin_scnet.params import ScnetParams

from splifft_core.testing import check_msst_demix, check_msst_golden

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_PATHS = sorted(FIXTURES.glob("scnet_*.pt"))
TOLERANCE = 1e-4


def load_fixture(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = torch.load(path, weights_only=True)
    return fixture


def network_for(fixture: dict[str, Any]) -> Scnet:
    params = ScnetParams.model_validate(import_msst(fixture["msst_config"])["params"])
    network = build(params).eval()
    network.load_state_dict(fixture["state_dict"], strict=True)
    return network


def test_fixtures_present() -> None:
    assert len(FIXTURE_PATHS) >= 3


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_matches_golden_output(path: Path) -> None:
    fixture = load_fixture(path)
    network = network_for(fixture)
    with torch.no_grad():
        ours = network(fixture["input"])
    assert ours.shape == fixture["output"].shape
    assert (ours - fixture["output"]).abs().max().item() <= TOLERANCE


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_single_item_batches_match(path: Path) -> None:
    """Batch items are independent (no cross-batch state in the LSTMs or norms)."""
    fixture = load_fixture(path)
    network = network_for(fixture)
    with torch.no_grad():
        ours = network(fixture["input"][1:])
    assert (ours - fixture["output"][1:]).abs().max().item() <= TOLERANCE


def test_stem_selection_keeps_the_asked_stems() -> None:
    fixture = load_fixture(FIXTURES / "scnet_base_4stems.pt")
    network = network_for(fixture)
    names = network.params.output_stem_names
    wanted = ("vocals", "drums")
    pruned, stems = select_stems(network, network.params, wanted)
    assert stems == wanted
    with torch.no_grad():
        out = pruned(fixture["input"])
    expected = fixture["output"][:, [names.index(s) for s in wanted]]
    assert (out - expected).abs().max().item() <= TOLERANCE


def test_stem_selection_rejects_unknown_stems() -> None:
    network = network_for(load_fixture(FIXTURES / "scnet_base_4stems.pt"))
    with pytest.raises(ValueError, match="unknown stems"):
        select_stems(network, network.params, ("piano",))


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_core_matches_golden_output(path: Path) -> None:
    """From an MSST-style `.ckpt` (all stems, the last alone), and the `import-msst` round trip."""
    fixture = load_fixture(path)
    manifest = check_msst_golden(SPEC, fixture, plugin=splifft_plugin_scnet, tolerance=TOLERANCE)
    assert manifest.inference.chunk_layout == "msst"


@pytest.mark.parametrize("batch_size", [1, 3])
def test_whole_tracks_match_msst_demix(batch_size: int) -> None:
    """Our separator with the `msst` chunk layout against MSST's own `demix` (its weights are
    `scnet_base_4stems.pt`'s)."""
    weights = load_fixture(FIXTURES / "scnet_base_4stems.pt")["state_dict"]
    golden = load_fixture(FIXTURES / "demix_scnet.pt")
    check_msst_demix(SPEC, golden, weights, batch_size=batch_size, tolerance=TOLERANCE)
