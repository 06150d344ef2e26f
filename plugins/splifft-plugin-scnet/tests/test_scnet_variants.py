"""MSST's SCNet variants `scnet_masked` and `scnet_tran` against golden outputs of the
reference classes (random, perturbed weights; see `fixtures/make_scnet_variant_fixtures.py`),
the contract kit and `import-msst`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import splifft_plugin_scnet
import torch
from splifft_plugin_scnet import MASKED_SPEC, SPEC, TRAN_SPEC
from splifft_plugin_scnet.msst import import_msst_masked, import_msst_tran
from splifft_plugin_scnet.network import Scnet, ScnetMasked, ScnetTran, select_stems
from splifft_plugin_scnet.params import ScnetMaskedParams, ScnetTranParams

from splifft_core.errors import MsstConfigError
from splifft_core.models import ArchitectureSpec
from splifft_core.msst import infer_architecture, load_msst_yaml
from splifft_core.plugins import PluginHost
from splifft_core.testing import check_architecture, check_msst_golden, check_stem_selection

FIXTURES = Path(__file__).parent / "fixtures"
SPECS = {"masked_2stems": MASKED_SPEC, "tran_2stems_mono": TRAN_SPEC}
RELATIVE_TOLERANCE = 1e-4
"""Of the reference output's largest magnitude."""


def load_fixture(name: str) -> dict[str, Any]:
    fixture: dict[str, Any] = torch.load(FIXTURES / f"variant_{name}.pt", weights_only=True)
    return fixture


def tolerance(fixture: dict[str, Any]) -> float:
    scale: float = fixture["output"].abs().max().item()
    return RELATIVE_TOLERANCE * scale


def network_for(name: str, fixture: dict[str, Any]) -> Scnet:
    spec = SPECS[name]
    assert spec.msst_import is not None
    importer = import_msst_masked if spec is MASKED_SPEC else import_msst_tran
    params = spec.parse_params(importer(fixture["msst_config"])["params"])
    network = spec.build_model(params).eval()
    assert isinstance(network, Scnet)
    network.load_state_dict(fixture["state_dict"], strict=True)
    return network


@pytest.mark.parametrize("name", sorted(SPECS))
def test_matches_golden_output(name: str) -> None:
    fixture = load_fixture(name)
    network = network_for(name, fixture)
    assert isinstance(network, ScnetMasked if name.startswith("masked") else ScnetTran)
    assert fixture["input"].shape[-1] // fixture["msst_config"]["model"]["hop_size"] >= 100
    with torch.no_grad():
        ours = network(fixture["input"])
        single = network(fixture["input"][1:])
    assert ours.shape == fixture["output"].shape
    assert (ours - fixture["output"]).abs().max().item() <= tolerance(fixture)
    assert (single - fixture["output"][1:]).abs().max().item() <= tolerance(fixture)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_core_matches_golden_output(name: str) -> None:
    """From an MSST-style `.ckpt` (all stems, the last alone), and the `import-msst` round trip."""
    fixture = load_fixture(name)
    manifest = check_msst_golden(
        SPECS[name], fixture, plugin=splifft_plugin_scnet, tolerance=tolerance(fixture)
    )
    assert manifest.architecture == SPECS[name].name
    assert manifest.inference.chunk_layout == "msst"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_stem_selection_keeps_the_asked_stems(name: str) -> None:
    fixture = load_fixture(name)
    network = network_for(name, fixture)
    params = network.params
    names = params.output_stem_names
    wanted = tuple(reversed(names))
    pruned, stems = select_stems(network, params, wanted)
    assert stems == wanted
    with torch.no_grad():
        out = pruned(fixture["input"])
    expected = fixture["output"][:, [names.index(s) for s in wanted]]
    assert (out - expected).abs().max().item() <= tolerance(fixture)


TINY_MASKED: dict[str, Any] = {
    "chunk_size": 2000,
    "output_stem_names": ["drums", "bass", "other", "vocals"],
    "dims": [4, 8, 12],
    "n_fft": 256,
    "hop_length": 64,
    "win_length": 256,
    "num_dual_path_layers": 2,
}
TINY_TRAN: dict[str, Any] = {
    **TINY_MASKED,
    "heads": 2,
    "dim_head": 8,
    "rotary_embedding_dim": 8,
}


@pytest.mark.parametrize(
    ("spec", "params"), [(MASKED_SPEC, TINY_MASKED), (TRAN_SPEC, TINY_TRAN)], ids=["masked", "tran"]
)
def test_contract_kit(spec: ArchitectureSpec, params: dict[str, Any]) -> None:
    check_architecture(spec, params)
    check_stem_selection(spec, params, ["vocals", "drums"])


def test_tran_mono_contract_kit() -> None:
    check_architecture(TRAN_SPEC, {**TINY_TRAN, "audio_channels": 1, "dims": [2, 6, 8]})


@pytest.mark.parametrize(
    ("model", "change", "message"),
    [
        (ScnetMaskedParams, {"audio_channels": 1, "dims": [2, 8]}, "stereo"),
        (ScnetMaskedParams, {"win_length": 192}, "must equal n_fft"),
        (ScnetTranParams, {"rotary_embedding_dim": 5}, "even"),
        (ScnetTranParams, {"rotary_embedding_dim": 16}, "exceeds dim_head"),
        (ScnetTranParams, {"num_dual_path_layers": 3}, "even"),
    ],
)
def test_params_reject(model: type[Any], change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        model.model_validate(
            {**TINY_TRAN, **change} if model is ScnetTranParams else {**TINY_MASKED, **change}
        )


def tran_config() -> dict[str, Any]:
    return load_msst_yaml(FIXTURES / "msst_musdb18_scnet_tran.yaml")


def test_tran_config() -> None:
    result = import_msst_tran(tran_config())
    params = ScnetTranParams.model_validate(result["params"])
    assert params.output_stem_names == ("drums", "bass", "other", "vocals")
    assert params.dims == (4, 32, 64, 128)
    assert (params.rotary_embedding_dim, params.transformer_depth) == (64, 1)
    assert (params.heads, params.dim_head) == (8, 64)
    assert params.stft.window == "rectangular"
    assert params.model_dump(mode="json") == result["params"]
    assert result["inference"]["overlap_ratio"] == 0.5
    assert result["inference"]["batch_size"] == 2


def test_masked_config_needs_its_model_type() -> None:
    config = load_msst_yaml(FIXTURES / "msst_musdb18_scnet_large.yaml")
    with pytest.raises(MsstConfigError, match=r"--model-type scnet_masked"):
        import_msst_masked(config)
    by_flag = ScnetMaskedParams.model_validate(
        import_msst_masked(config, model_type="scnet_masked")["params"]
    )
    assert by_flag.dims == (4, 64, 128, 256)
    config["training"]["model_type"] = "scnet_masked"
    params = ScnetMaskedParams.model_validate(import_msst_masked(config)["params"])
    assert params.dims == (4, 64, 128, 256)
    assert params.stft.window == "hann"


@pytest.fixture
def host() -> PluginHost:
    host = PluginHost(strict=True)
    host.register(splifft_plugin_scnet, "scnet")
    return host


def test_configs_are_told_apart(host: PluginHost) -> None:
    """Without `--model-type`, each yaml names one of the three architectures."""
    plain = load_msst_yaml(FIXTURES / "msst_musdb18_scnet_large.yaml")
    assert infer_architecture(copy.deepcopy(plain), host=host).spec is SPEC
    assert infer_architecture(tran_config(), host=host).spec is TRAN_SPEC
    plain["training"]["model_type"] = "scnet_masked"
    assert infer_architecture(plain, host=host).spec is MASKED_SPEC
    named = tran_config()
    named["model"] = {"sources": ["vocals"]}
    named["training"]["model_type"] = "scnet_tran"
    assert infer_architecture(named, host=host).spec is TRAN_SPEC


def test_model_type_flag_reaches_the_converters(host: PluginHost) -> None:
    """`import-msst --model-type scnet_masked` on the stock yaml (no training.model_type)."""
    plain = load_msst_yaml(FIXTURES / "msst_musdb18_scnet_large.yaml")
    assert "model_type" not in plain["training"]
    chosen = infer_architecture(copy.deepcopy(plain), "scnet_masked", host=host)
    assert chosen.spec is MASKED_SPEC
    assert infer_architecture(copy.deepcopy(plain), "scnet", host=host).spec is SPEC


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["model"].update(tran_window=3), r"unknown key\(s\) model.tran_window"),
        (lambda c: c["model"].update(tran_heads=0), "heads"),
        (lambda c: c["training"].update(model_type="scnet"), "not 'scnet_tran'"),
        (lambda c: c["model"].update(tran_rotary_embedding_dim=128), "exceeds dim_head"),
    ],
)
def test_tran_rejects(edit: Any, message: str) -> None:
    config = copy.deepcopy(tran_config())
    edit(config)
    with pytest.raises(MsstConfigError, match=message):
        import_msst_tran(config)
