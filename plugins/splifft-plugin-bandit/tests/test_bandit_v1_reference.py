"""Our BandIt v1 against golden outputs of the reference (MSST's `models/bandit`, random
weights), and MSST's state-dict layouts at full size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from splifft_plugin_bandit.v1 import SPEC
from splifft_plugin_bandit.v1.msst import import_msst
from splifft_plugin_bandit.v1.network import Bandit, band_specs_and_weights, build
from splifft_plugin_bandit.v1.params import BanditParams

from splifft_core.errors import CheckpointError
from splifft_core.testing import check_golden_chunk, check_msst_demix, check_msst_golden

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_PATHS = sorted(
    p for p in FIXTURES.glob("bandit_v1_*.pt") if p.name != "bandit_v1_layouts.pt"
)
RELATIVE_TOLERANCE = 1e-4
"""Of the output scale (its largest magnitude)."""


def load_fixture(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = torch.load(path, weights_only=True)
    fixture["input"] = fixture["input"].float()  # stored as float16; the reference ran on these
    return fixture


def tolerance(fixture: dict[str, Any]) -> float:
    return RELATIVE_TOLERANCE * float(fixture["output"].abs().max())


def params_for(msst_config: dict[str, Any]) -> BanditParams:
    return BanditParams.model_validate(import_msst(msst_config)["params"])


def network_for(fixture: dict[str, Any]) -> Bandit:
    network = build(params_for(fixture["msst_config"])).eval()
    network.load_state_dict(fixture["state_dict"], strict=True)
    return network


def test_fixtures_present() -> None:
    assert [p.stem for p in FIXTURE_PATHS] == [
        "bandit_v1_mel_mono",
        "bandit_v1_musical_mono",
        "bandit_v1_vox7_stereo",
    ]


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_fixture_is_not_trivial(path: Path) -> None:
    """At least 100 STFT frames, an output that is neither zero nor the input."""
    fixture = load_fixture(path)
    params = params_for(fixture["msst_config"])
    assert fixture["input"].shape[-1] // params.hop_length + 1 >= 100
    assert fixture["output"].abs().max().item() > 1e-2
    assert (fixture["output"][:, 0] - fixture["input"]).abs().max().item() > 10 * tolerance(fixture)


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
    """From an MSST-style `.ckpt` (strictly), pruned to the last stem, and the `import-msst`
    round trip."""
    fixture = load_fixture(path)
    manifest = check_msst_golden(SPEC, fixture, tolerance=tolerance(fixture))
    assert manifest.inference.chunk_layout == "msst"
    assert list(manifest.stems) == list(fixture["msst_config"]["model"]["stems"])


LAYOUTS: dict[str, Any] = torch.load(FIXTURES / "bandit_v1_layouts.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_full_size_layouts(name: str) -> None:
    """MSST's stock configs (and mel / vox7 variants) at full size: the same state-dict keys and
    shapes (STFT windows and band weights included), and the same bands."""
    layout = LAYOUTS[name]
    msst_config = {"audio": {"sample_rate": 44100}, "model": {"in_channel": 1, **layout["model"]}}
    params = params_for(msst_config)
    with torch.device("meta"):
        network = build(params)
    shapes = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    assert shapes == {k: tuple(v) for k, v in layout["shapes"].items()}
    specs, _ = band_specs_and_weights(params)
    assert specs == [tuple(b) for b in layout["band_specs"]]


@pytest.mark.parametrize(("band_specs", "covered"), [("musical", 1025), ("mel", 1024)])
def test_band_weights_sum_to_one(band_specs: str, covered: int) -> None:
    """Every bin's weights sum to one; the mel filters leave the Nyquist bin out (its mask is
    zero, as in BandIt)."""
    params = BanditParams.model_validate({"band_specs": band_specs})
    specs, weights = band_specs_and_weights(params)
    assert weights is not None
    total = torch.zeros(params.n_freq, dtype=torch.float64)
    for (start, end), fw in zip(specs, weights, strict=True):
        total[start:end] += fw
    assert torch.allclose(total[:covered], torch.ones(covered, dtype=torch.float64))
    assert not total[covered:].any()


def test_wrapped_checkpoints_load(tmp_path: Path) -> None:
    """A Lightning system's `model.*` keys (BandIt's own training) and DataParallel's."""
    fixture = load_fixture(FIXTURES / "bandit_v1_vox7_stereo.pt")
    params = params_for(fixture["msst_config"])
    state_dict = fixture["state_dict"]
    lightning = {"epoch": 3, "state_dict": {f"model.{k}": v for k, v in state_dict.items()}}
    wrapped = {f"module.{k}": v for k, v in state_dict.items()}
    for name, checkpoint in (("ckpt", lightning), ("pth", wrapped)):
        path = tmp_path / f"model.{name}"
        torch.save(checkpoint, path)
        check_golden_chunk(
            SPEC, params, path, fixture["input"], fixture["output"], tolerance=tolerance(fixture)
        )


def test_rejects_foreign_checkpoint(tmp_path: Path) -> None:
    fixture = load_fixture(FIXTURES / "bandit_v1_vox7_stereo.pt")
    path = tmp_path / "other.ckpt"
    torch.save({"encoder.weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a BandIt v1 checkpoint"):
        check_golden_chunk(
            SPEC, params_for(fixture["msst_config"]), path, fixture["input"], fixture["output"]
        )


@pytest.mark.parametrize("batch_size", [1, 3])
def test_whole_tracks_match_msst_demix(batch_size: int) -> None:
    """Our separator with the `msst` chunk layout against MSST's own `demix` (its weights are
    `bandit_v1_vox7_stereo.pt`'s, its chunk 8192 samples)."""
    weights = load_fixture(FIXTURES / "bandit_v1_vox7_stereo.pt")["state_dict"]
    golden: dict[str, Any] = torch.load(FIXTURES / "demix_bandit_v1.pt", weights_only=True)
    scale = max(float(output.abs().max()) for output in golden["outputs"])
    check_msst_demix(
        SPEC, golden, weights, batch_size=batch_size, tolerance=RELATIVE_TOLERANCE * scale
    )
