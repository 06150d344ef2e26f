"""`import-msst` for MSST `apollo` configs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from splifft_plugin_apollo.msst import import_msst
from splifft_plugin_apollo.params import ApolloParams

from splifft_core.errors import MsstConfigError
from splifft_core.msst import load_msst_yaml

# The values of MSST's `configs/config_apollo.yaml` (JusperLee's published model).
CONFIG_YAML = """\
audio:
  chunk_size: 132300
  num_channels: 2
  sample_rate: 44100
  min_mean_abs: 0.0
model:
  sr: 44100
  win: 20
  feature_dim: 256
  layer: 6
training:
  instruments: ['restored', 'addition']
  target_instrument: 'restored'
  batch_size: 2
  optimizer: 'prodigy'
  lr: 1.0
augmentations:
  enable: false
inference:
  batch_size: 4
  num_overlap: 4
"""


def config(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "config_apollo.yaml"
    path.write_text(CONFIG_YAML)
    return load_msst_yaml(path)


def test_published_config(tmp_path: Path) -> None:
    result = import_msst(config(tmp_path))
    params = ApolloParams.model_validate(result["params"])
    assert params == ApolloParams()
    assert params.output_stem_names == ("restored",)
    assert (params.chunk_size, params.sample_rate, params.audio_channels) == (132300, 44100, 2)
    assert (params.win_ms, params.feature_dim, params.layers) == (20, 256, 6)
    assert result["inference"] == {
        "chunk_size": None,
        "overlap_ratio": 0.75,
        "batch_size": 4,
        "window_shape": "linear_fade",
        "chunk_layout": "msst",
        "hop_size": 132300 // 4,
    }


def test_round_trips_through_json(tmp_path: Path) -> None:
    params = import_msst(config(tmp_path))["params"]
    assert ApolloParams.model_validate(params).model_dump(mode="json") == params


def test_the_manifest_matches_the_published_config(tmp_path: Path) -> None:
    import json

    registry = Path(__file__).parents[3] / "registry" / "apollo-li-mp3_restoration.json"
    manifest = json.loads(registry.read_text())
    assert manifest["params"] == import_msst(config(tmp_path))["params"]


def test_stem_from_the_only_instrument(tmp_path: Path) -> None:
    raw = config(tmp_path)
    raw["training"] = {"instruments": ["vocals"]}
    assert import_msst(raw)["params"]["output_stem_names"] == ["vocals"]
    raw["training"] = {"instruments": ["restored", "addition"], "target_instrument": "vocals"}
    assert import_msst(raw)["params"]["output_stem_names"] == ["vocals"]
    del raw["training"]
    assert import_msst(raw)["params"]["output_stem_names"] == ["restored"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["model"].update(kernel=7), r"unknown key\(s\) model.kernel"),
        (lambda c: c["model"].pop("layer"), r"missing required key model.layer"),
        (lambda c: c["audio"].update(dim_f=1024), r"audio.dim_f"),
        (lambda c: c["inference"].update(tta=True), r"inference.tta"),
        (lambda c: c["audio"].update(sample_rate=48000), "differs from model.sr"),
        (lambda c: c["model"].update(feature_dim=24), "even size"),
        (lambda c: c["model"].update(win=3), "at least 160"),
        (lambda c: c["inference"].update(num_overlap=0), "num_overlap"),
        (lambda c: c["training"].pop("target_instrument"), "one stem"),
        (lambda c: c["training"].update(model_type="bs_roformer"), "not 'apollo'"),
    ],
)
def test_rejects(tmp_path: Path, edit: Any, message: str) -> None:
    raw = copy.deepcopy(config(tmp_path))
    edit(raw)
    with pytest.raises(MsstConfigError, match=message):
        import_msst(raw)
