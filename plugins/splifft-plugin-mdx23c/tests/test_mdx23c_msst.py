"""`import-msst` for MSST `mdx23c` configs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from splifft_plugin_mdx23c.msst import import_msst
from splifft_plugin_mdx23c.params import Mdx23cParams

from splifft_core.errors import MsstConfigError
from splifft_core.msst import load_msst_yaml

VOCALS_CONFIG = Path(__file__).parent / "fixtures" / "msst_vocals_mdx23c.yaml"


def vocals_config() -> dict[str, Any]:
    return load_msst_yaml(VOCALS_CONFIG)


def test_vocals_config() -> None:
    result = import_msst(vocals_config())
    params = Mdx23cParams.model_validate(result["params"])
    assert params.output_stem_names == ("vocals", "other")
    assert params.chunk_size == 261120
    assert (params.n_fft, params.hop_length, params.dim_f) == (8192, 1024, 4096)
    assert params.hidden_channels == 128 and params.growth == 128
    assert params.scale == (2, 2)
    assert params.norm == "InstanceNorm" and params.act == "gelu"
    assert result["inference"] == {
        "chunk_size": None,
        "overlap_ratio": 0.75,
        "batch_size": 1,
        "window_shape": "linear_fade",
        "chunk_layout": "msst",
        "hop_size": 261120 // 4,
    }


def test_round_trips_through_json() -> None:
    params = import_msst(vocals_config())["params"]
    again = Mdx23cParams.model_validate(params).model_dump(mode="json")
    assert again == params


def test_target_instrument_wins() -> None:
    config = vocals_config()
    config["training"]["target_instrument"] = "vocals"
    assert import_msst(config)["params"]["output_stem_names"] == ["vocals"]


def test_inference_overrides() -> None:
    config = vocals_config()
    config["inference"] = {
        "num_overlap": 2,
        "batch_size": 4,
        "chunk_size": 130048,
        "normalize": True,
    }
    assert import_msst(config)["inference"] == {
        "chunk_size": 130048,
        "overlap_ratio": 0.5,
        "batch_size": 4,
        "window_shape": "linear_fade",
        "chunk_layout": "msst",
        "hop_size": 130048 // 2,
        "normalize": True,
    }


def test_chunk_size_from_dim_t() -> None:
    config = vocals_config()
    del config["audio"]["chunk_size"]
    assert import_msst(config)["params"]["chunk_size"] == 1024 * 255


def test_identity_norm() -> None:
    config = vocals_config()
    config["model"]["norm"] = "None"
    assert import_msst(config)["params"]["norm"] == "none"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["model"].update(attention=True), r"unknown key\(s\) model.attention"),
        (lambda c: c["audio"].update(stereo=True), r"audio.stereo"),
        (lambda c: c["inference"].update(tta=True), r"inference.tta"),
        (lambda c: c["model"].pop("growth"), "missing required key model.growth"),
        (lambda c: c["audio"].pop("n_fft"), "missing required key audio.n_fft"),
        (lambda c: c["training"].pop("instruments"), "training.instruments"),
        (lambda c: c["model"].update(norm="LayerNorm"), "unknown norm"),
        (lambda c: c["audio"].update(chunk_size=261121), "chunk_size"),
        (lambda c: c["inference"].update(num_overlap=0), "num_overlap"),
        (lambda c: c["training"].update(model_type="scnet"), "not 'mdx23c'"),
    ],
)
def test_rejects(edit: Any, message: str) -> None:
    config = copy.deepcopy(vocals_config())
    edit(config)
    with pytest.raises(MsstConfigError, match=message):
        import_msst(config)
