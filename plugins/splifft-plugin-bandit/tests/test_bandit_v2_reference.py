"""Our BandIt v2 against golden outputs of the reference (MSST's `models/bandit_v2`, random
weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import splifft_plugin_bandit
import torch
from splifft_plugin_bandit.v2 import SPEC
from splifft_plugin_bandit.v2.msst import import_msst
from splifft_plugin_bandit.v2.network import BanditV2, build
from splifft_plugin_bandit.v2.params import BanditV2Params

from splifft_core.errors import CheckpointError
from splifft_core.testing import check_golden_chunk, check_msst_demix, check_msst_golden

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_PATHS = sorted(FIXTURES.glob("bandit_v2_*.pt"))
RELATIVE_TOLERANCE = 1e-4
"""Of the output scale (its largest magnitude)."""


def load_fixture(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = torch.load(path, weights_only=True)
    fixture["input"] = fixture["input"].float()  # stored as float16; the reference ran on these
    return fixture


def tolerance(fixture: dict[str, Any]) -> float:
    return RELATIVE_TOLERANCE * float(fixture["output"].abs().max())


def params_for(fixture: dict[str, Any]) -> BanditV2Params:
    return BanditV2Params.model_validate(import_msst(fixture["msst_config"])["params"])


def network_for(fixture: dict[str, Any]) -> BanditV2:
    network = build(params_for(fixture)).eval()
    network.load_state_dict(fixture["state_dict"], strict=True)
    return network


def test_fixtures_present() -> None:
    assert len(FIXTURE_PATHS) >= 2


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_fixture_is_not_trivial(path: Path) -> None:
    """Over 100 STFT frames, several bands, an output neither zero nor the input."""
    fixture = load_fixture(path)
    params = params_for(fixture)
    samples = fixture["input"].shape[-1]
    assert samples // params.hop_length + 1 >= 100
    assert len(params.band_specs) >= 10
    scale = fixture["output"].abs().max().item()
    assert scale > 1e-2
    difference = fixture["output"] - fixture["input"][:, None]
    assert difference.abs().max().item() > 10 * tolerance(fixture)


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_band_layout_matches(path: Path) -> None:
    """Our musical bands are the reference's, bin for bin."""
    fixture = load_fixture(path)
    assert params_for(fixture).band_specs == [tuple(b) for b in fixture["band_specs"]]


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_matches_golden_output(path: Path) -> None:
    fixture = load_fixture(path)
    network = network_for(fixture)
    with torch.no_grad():
        ours = network(fixture["input"])
    assert ours.shape == fixture["output"].shape
    assert (ours - fixture["output"]).abs().max().item() <= tolerance(fixture)


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_core_matches_golden_output(path: Path) -> None:
    """From an MSST-style `.ckpt` (strictly), one stem pruned, and the `import-msst` round
    trip."""
    fixture = load_fixture(path)
    manifest = check_msst_golden(
        SPEC, fixture, plugin=splifft_plugin_bandit, tolerance=tolerance(fixture)
    )
    assert manifest.inference.chunk_layout == "msst"
    assert list(manifest.stems) == fixture["msst_config"]["kwargs"]["stems"]


def test_foreign_layouts_load(tmp_path: Path) -> None:
    """A Lightning checkpoint of kwatcharasupat/bandit-v2 (`model.*` beside loss keys, compiled
    submodules as `._orig_mod.`, a mask head under one name, no STFT windows) and a
    DataParallel one load strictly."""
    fixture = load_fixture(FIXTURES / "bandit_v2_gru_stereo.pt")
    params = params_for(fixture)
    state_dict = fixture["state_dict"]
    compiled = {}
    for key, value in state_dict.items():
        if key.endswith(".window") or (".combined." in key and key.startswith("mask_estim.")):
            continue
        key = key.replace(".norm_fc_modules.0.", ".norm_fc_modules.0._orig_mod.")
        compiled[key.replace("tf_model.", "tf_model._orig_mod.")] = value
    lightning = {
        "epoch": 3,
        "state_dict": {
            **{f"model.{k}": v for k, v in compiled.items()},
            "loss_handler.weight": torch.zeros(2),
        },
    }
    wrapped = {f"module.{k}": v for k, v in state_dict.items()}
    for name, checkpoint in (("ckpt", lightning), ("pth", wrapped)):
        path = tmp_path / f"model.{name}"
        torch.save(checkpoint, path)
        check_golden_chunk(
            SPEC, params, path, fixture["input"], fixture["output"], tolerance=tolerance(fixture)
        )


def test_rejects_foreign_checkpoint(tmp_path: Path) -> None:
    fixture = load_fixture(FIXTURES / "bandit_v2_gru_stereo.pt")
    path = tmp_path / "other.ckpt"
    torch.save({"encoder.weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a BandIt v2 checkpoint"):
        check_golden_chunk(SPEC, params_for(fixture), path, fixture["input"], fixture["output"])


@pytest.mark.parametrize("batch_size", [1, 3])
def test_whole_tracks_match_msst_demix(batch_size: int) -> None:
    """Our separator with the `msst` chunk layout against MSST's own `demix` (its weights are
    `bandit_v2_gru_stereo.pt`'s, its chunk 4000 samples)."""
    weights = load_fixture(FIXTURES / "bandit_v2_gru_stereo.pt")["state_dict"]
    golden: dict[str, Any] = torch.load(FIXTURES / "demix_bandit_v2.pt", weights_only=True)
    scale = max(float(output.abs().max()) for output in golden["outputs"])
    check_msst_demix(
        SPEC, golden, weights, batch_size=batch_size, tolerance=RELATIVE_TOLERANCE * scale
    )
