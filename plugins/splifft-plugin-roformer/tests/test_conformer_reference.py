"""Our conformers against MSST's own `BSConformer` / `MelBandConformer`, through goldens.

`fixtures/make_conformer_goldens.py` built each MSST class with random weights (perturbed away
from their initial values, batch-norm statistics included), ran it on two chunks of 129 STFT
frames and saved its state dict, the input and its output. Each state dict loads into ours as it
is (`strict=True`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from splifft_plugin_roformer import BS_CONFORMER, MEL_CONFORMER
from splifft_plugin_roformer.network import Roformer

from splifft_core.config import InferenceConfig
from splifft_core.models import resolve
from splifft_core.separator import Separator

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN_FILES = sorted(FIXTURES.glob("conformer_msst_*.pt"))
SPECS = {"bs_conformer": BS_CONFORMER, "mel_band_conformer": MEL_CONFORMER}


def _id(path: Path) -> str:
    return path.stem.removeprefix("conformer_msst_")


def load_golden(path: Path) -> dict[str, Any]:
    """The fixture with its packed state dict unpacked (float16 values; the rotary frequencies
    and batch-norm counters as the reference stored them)."""
    raw: dict[str, Any] = torch.load(path, weights_only=True)
    state_dict: dict[str, torch.Tensor] = {}
    offset = 0
    for key, shape in zip(raw["keys"], raw["shapes"], strict=True):
        size = math.prod(shape)
        state_dict[key] = raw["values"][offset : offset + size].reshape(shape)
        offset += size
    state_dict.update(raw["rotary"])
    raw["state_dict"] = state_dict
    return raw


def _check(out: torch.Tensor, expected: torch.Tensor) -> None:
    assert out.shape == expected.shape
    scale = expected.abs().max().item()
    assert scale > 0.1  # the random weights give a non-trivial output
    assert (out - expected).abs().max().item() <= 1e-4 * scale


def test_fixtures_cover_the_matrix() -> None:
    names = [p.stem for p in GOLDEN_FILES]
    for part in ("bs_", "mel_", "mono", "stereo", "1stem", "2stem", "4stem", "skip", "linear"):
        assert any(part in n for n in names), part
    for path in GOLDEN_FILES:
        golden = torch.load(path, weights_only=True)
        hop = golden["params"]["stft_hop_length"]
        assert golden["input"].shape[-1] // hop + 1 >= 100  # STFT frames per chunk


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=_id)
def test_matches_msst(path: Path) -> None:
    golden = load_golden(path)
    spec = SPECS[golden["architecture"]]
    separator = Separator.from_spec(
        spec, golden["params"], golden["state_dict"], inference=InferenceConfig(), device="cpu"
    )
    with torch.inference_mode():
        out = separator.model(golden["input"].float())
    _check(out, golden["output"])


@pytest.mark.parametrize("path", [p for p in GOLDEN_FILES if "4stem" in p.stem], ids=_id)
def test_stem_selection_runs_only_the_chosen_heads(path: Path) -> None:
    golden = load_golden(path)
    spec = SPECS[golden["architecture"]]
    chosen = ("bass", "vocals")
    separator = Separator.from_spec(
        spec, golden["params"], golden["state_dict"], device="cpu", stems=chosen
    )
    network = separator.model.network
    assert isinstance(network, Roformer)
    assert sorted(network.active_stems) == [0, 2]
    with torch.inference_mode():
        out = separator.model(golden["input"].float())
    _check(out, golden["output"][:, list(network.active_stems)])


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=_id)
def test_msst_import_matches_reference(path: Path) -> None:
    """An MSST yaml of the reference's kwargs imports to params that reproduce its output."""
    golden = load_golden(path)
    spec = SPECS[golden["architecture"]]
    kwargs: dict[str, Any] = golden["reference_kwargs"]
    stems = golden["params"]["output_stem_names"]
    training = (
        {"instruments": [*stems, "other_"], "target_instrument": stems[0]}
        if len(stems) == 1
        else {"instruments": stems, "target_instrument": None}
    )
    yaml_text = yaml.safe_dump(
        {
            "audio": {
                "chunk_size": golden["params"]["chunk_size"],
                "num_channels": 2 if kwargs["stereo"] else 1,
                "sample_rate": kwargs.get("sample_rate", 44100),
            },
            "model": kwargs,
            "training": training,
            "inference": {"batch_size": 2, "num_overlap": 4},
        }
    )
    assert spec.msst_import is not None
    imported = resolve(spec.msst_import)(yaml.safe_load(yaml_text))
    assert imported["params"]["output_stem_names"] == stems
    assert imported["inference"]["overlap_ratio"] == 0.75
    separator = Separator.from_spec(spec, imported["params"], golden["state_dict"], device="cpu")
    with torch.inference_mode():
        out = separator.model(golden["input"].float())
    _check(out, golden["output"])


@pytest.mark.parametrize(
    "path",
    [p for p in GOLDEN_FILES if "linear_skip" in p.stem],
    ids=_id,
)
def test_cli_import_msst_round_trip(
    path: Path,
    tmp_path: Path,
    plugin_host: Callable[..., object],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`splifft import-msst` of the reference's yaml and checkpoint (type inferred from the keys,
    with the roformers installed alongside) → a manifest whose model reproduces MSST's output."""
    import splifft_plugin_roformer

    import splifft
    from splifft.cli import main

    plugin_host(splifft_plugin_roformer)
    golden = load_golden(path)
    kwargs = golden["reference_kwargs"]
    stems = golden["params"]["output_stem_names"]
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "audio": {
                    "chunk_size": golden["params"]["chunk_size"],
                    "num_channels": 2 if kwargs["stereo"] else 1,
                    "sample_rate": kwargs.get("sample_rate", 44100),
                },
                "model": kwargs,
                "training": {"instruments": stems, "target_instrument": None},
            }
        )
    )
    checkpoint = tmp_path / "model.ckpt"
    torch.save({"state_dict": golden["state_dict"]}, checkpoint)
    assert main(["import-msst", str(config), str(checkpoint)]) == 0, capsys.readouterr().err
    separator = splifft.load(f"{golden['architecture']}-custom-model", device="cpu")
    with torch.inference_mode():
        out = separator.model(golden["input"].float())
    _check(out, golden["output"])
