"""`import-msst` for MSST `scnet` configs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from splifft_plugin_scnet.msst import import_msst
from splifft_plugin_scnet.params import ScnetParams

from splifft_core.errors import MsstConfigError
from splifft_core.msst import load_msst_yaml

LARGE_CONFIG = Path(__file__).parent / "fixtures" / "msst_musdb18_scnet_large.yaml"


def large_config() -> dict[str, Any]:
    return load_msst_yaml(LARGE_CONFIG)


def test_large_config() -> None:
    result = import_msst(large_config())
    params = ScnetParams.model_validate(result["params"])
    assert params.output_stem_names == ("drums", "bass", "other", "vocals")
    assert params.chunk_size == 485100
    assert params.dims == (4, 64, 128, 256)
    assert params.band_ratios == (0.225, 0.372, 0.403)
    assert (params.n_fft, params.hop_length, params.win_length) == (4096, 1024, 4096)
    assert params.num_dual_path_layers == 6
    assert result["inference"] == {
        "chunk_size": None,
        "overlap_ratio": 0.75,
        "batch_size": 8,
        "window_shape": "linear_fade",
        "chunk_layout": "msst",
        "hop_size": 485100 // 4,
        "normalize": False,
    }


def test_round_trips_through_json() -> None:
    params = import_msst(large_config())["params"]
    assert ScnetParams.model_validate(params).model_dump(mode="json") == params


def test_missing_model_keys_take_scnet_defaults() -> None:
    config = large_config()
    config["model"] = {"sources": ["vocals", "other"]}
    params = ScnetParams.model_validate(import_msst(config)["params"])
    assert params.dims == (4, 32, 64, 128)
    assert params.band_ratios == (0.175, 0.392, 0.433)
    assert params.normalized is True


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["model"].update(tran_depth=1), r"unknown key\(s\) model.tran_depth"),
        (lambda c: c["audio"].update(dim_f=1024), r"audio.dim_f"),
        (lambda c: c["inference"].update(tta=True), r"inference.tta"),
        (lambda c: c["audio"].update(num_channels=1), "differs from model.audio_channels"),
        (lambda c: c["model"].update(dims=[2, 8]), "audio_channels"),
        (lambda c: c["model"].update(num_dplayer=5), "even"),
        (lambda c: c["inference"].update(num_overlap=-1), "num_overlap"),
        (lambda c: c["training"].update(model_type="scnet_masked"), "not 'scnet'"),
    ],
)
def test_rejects(edit: Any, message: str) -> None:
    config = copy.deepcopy(large_config())
    edit(config)
    with pytest.raises(MsstConfigError, match=message):
        import_msst(config)
