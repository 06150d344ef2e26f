"""Our Apollo against golden outputs of the reference (MSST's `models/look2hear`, random weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import splifft_plugin_apollo
import torch
from splifft_plugin_apollo import SPEC
from splifft_plugin_apollo.msst import import_msst
from splifft_plugin_apollo.network import Apollo, build
from splifft_plugin_apollo.params import ApolloParams

from splifft_core.errors import CheckpointError
from splifft_core.testing import check_golden_chunk, check_msst_demix, check_msst_golden

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_PATHS = sorted(FIXTURES.glob("apollo_*.pt"))
RELATIVE_TOLERANCE = 1e-4
"""Of the output scale (its largest magnitude)."""


def load_fixture(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = torch.load(path, weights_only=True)
    fixture["input"] = fixture["input"].float()  # stored as float16; the reference ran on these
    return fixture


def tolerance(fixture: dict[str, Any]) -> float:
    return RELATIVE_TOLERANCE * float(fixture["output"].abs().max())


def params_for(fixture: dict[str, Any]) -> ApolloParams:
    return ApolloParams.model_validate(import_msst(fixture["msst_config"])["params"])


def network_for(fixture: dict[str, Any]) -> Apollo:
    network = build(params_for(fixture)).eval()
    network.load_state_dict(fixture["state_dict"], strict=True)
    return network


def test_fixtures_present() -> None:
    assert len(FIXTURE_PATHS) >= 2


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda p: p.stem)
def test_fixture_is_not_trivial(path: Path) -> None:
    """Several seconds, over 100 STFT frames, an output that is neither zero nor the input."""
    fixture = load_fixture(path)
    params = params_for(fixture)
    samples = fixture["input"].shape[-1]
    assert samples >= 2 * params.sample_rate
    assert samples // params.hop_length + 1 >= 100
    scale = fixture["output"].abs().max().item()
    assert scale > 1e-2
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
    """From an MSST-style `.ckpt`, and the `import-msst` round trip."""
    fixture = load_fixture(path)
    manifest = check_msst_golden(
        SPEC, fixture, plugin=splifft_plugin_apollo, tolerance=tolerance(fixture)
    )
    assert manifest.inference.chunk_layout == "msst"
    assert list(manifest.stems) == ["restored"]


def test_published_and_lightning_layouts_load(tmp_path: Path) -> None:
    """`pytorch_model.bin` (look2hear's `serialize`: `{model_name, state_dict, model_args,
    infos}`) and a Lightning checkpoint of JusperLee/Apollo's training (`audio_model.*` beside
    `discriminator.*`) load strictly, as does a DataParallel one."""
    fixture = load_fixture(FIXTURES / "apollo_stereo_16k.pt")
    params = params_for(fixture)
    state_dict = fixture["state_dict"]
    published = {
        "model_name": "Apollo",
        "state_dict": state_dict,
        "model_args": {"n_sample_rate": 2},
        "infos": {"software_versions": {"torch_version": "2.1.0"}},
    }
    lightning = {
        "epoch": 3,
        "state_dict": {
            **{f"audio_model.{k}": v for k, v in state_dict.items()},
            "discriminator.conv.weight": torch.zeros(4, 1, 3),
        },
    }
    wrapped = {f"module.{k}": v for k, v in state_dict.items()}
    for name, checkpoint in (("bin", published), ("ckpt", lightning), ("pth", wrapped)):
        path = tmp_path / f"model.{name}"
        torch.save(checkpoint, path)
        check_golden_chunk(
            SPEC, params, path, fixture["input"], fixture["output"], tolerance=tolerance(fixture)
        )


def test_rejects_foreign_checkpoint(tmp_path: Path) -> None:
    fixture = load_fixture(FIXTURES / "apollo_stereo_16k.pt")
    path = tmp_path / "other.ckpt"
    torch.save({"encoder.weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not an Apollo checkpoint"):
        check_golden_chunk(SPEC, params_for(fixture), path, fixture["input"], fixture["output"])


@pytest.mark.parametrize("batch_size", [1, 3])
def test_whole_tracks_match_msst_demix(batch_size: int) -> None:
    """Our separator with the `msst` chunk layout against MSST's own `demix` (its weights are
    `apollo_stereo_16k.pt`'s, its chunk 4000 samples)."""
    weights = load_fixture(FIXTURES / "apollo_stereo_16k.pt")["state_dict"]
    golden: dict[str, Any] = torch.load(FIXTURES / "demix_apollo.pt", weights_only=True)
    scale = max(float(output.abs().max()) for output in golden["outputs"])
    check_msst_demix(
        SPEC, golden, weights, batch_size=batch_size, tolerance=RELATIVE_TOLERANCE * scale
    )
