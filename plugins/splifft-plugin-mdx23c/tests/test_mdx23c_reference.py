"""Our MDX23C against the reference (MSST's `TFC_TDF_net` as vendored by audio-separator)."""

from __future__ import annotations

import copy
import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import splifft_plugin_mdx23c
import torch
from splifft_plugin_mdx23c import SPEC
from splifft_plugin_mdx23c.msst import import_msst
from splifft_plugin_mdx23c.network import Mdx23c, build, select_stems
from splifft_plugin_mdx23c.params import Mdx23cParams

from splifft_core.testing import check_msst_demix, check_msst_golden

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_PATHS = sorted(FIXTURES.glob("mdx23c_*.pt"))
TOLERANCE = 1e-4


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


def fixture_generator() -> Any:
    """`fixtures/make_mdx23c_fixtures.py`, imported by path: the reference is built as there."""
    name = "make_mdx23c_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FIXTURES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@functools.cache
def reference_class() -> Any:
    """audio-separator's `TFC_TDF_net`, without its package `__init__` (which needs librosa, …)."""
    if importlib.util.find_spec("audio_separator") is None:
        pytest.skip("audio-separator is not installed (it lives in a side venv)")
    return fixture_generator().import_reference()


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_matches_live_reference(path: Path) -> None:
    """Rebuild the reference with fresh random weights (needs audio-separator: side venvs)."""
    tfc_tdf_net = reference_class()
    config = load_fixture(path)["msst_config"]
    torch.manual_seed(0)
    namespace = fixture_generator().namespace(copy.deepcopy(config))
    reference = tfc_tdf_net(namespace, device="cpu")
    reference.eval()
    network = network_for(config, reference.state_dict())
    mixture = torch.randn(1, 2, config["audio"]["chunk_size"])
    with torch.no_grad():
        expected = reference(mixture).reshape(network(mixture).shape)
        ours = network(mixture)
    assert (ours - expected).abs().max().item() <= TOLERANCE


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_core_matches_golden_output(path: Path) -> None:
    """From an MSST-style `.ckpt` (all stems, the last alone), and the `import-msst` round trip."""
    fixture = load_fixture(path)
    manifest = check_msst_golden(SPEC, fixture, plugin=splifft_plugin_mdx23c, tolerance=TOLERANCE)
    assert manifest.inference.chunk_layout == "msst"


@pytest.mark.parametrize("batch_size", [1, 3])
def test_whole_tracks_match_msst_demix(batch_size: int) -> None:
    """Our separator with the `msst` chunk layout against MSST's own `demix` (its weights are
    `mdx23c_instancenorm_gelu.pt`'s)."""
    weights = load_fixture(FIXTURES / "mdx23c_instancenorm_gelu.pt")["state_dict"]
    golden = load_fixture(FIXTURES / "demix_mdx23c.pt")
    check_msst_demix(SPEC, golden, weights, batch_size=batch_size, tolerance=TOLERANCE)


@pytest.mark.parametrize("samples", [1, 1000, 1985, 4000])
def test_any_length_is_padded_internally(samples: int) -> None:
    fixture = load_fixture(FIXTURE_PATHS[0])
    network = network_for(fixture["msst_config"], fixture["state_dict"])
    with torch.no_grad():
        out = network(torch.randn(1, 2, samples))
    assert out.shape == (1, len(network.params.output_stem_names), 2, samples)
    assert torch.isfinite(out).all()
