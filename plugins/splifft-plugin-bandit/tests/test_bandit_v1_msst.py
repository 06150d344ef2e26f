"""`import-msst` for MSST `bandit` (BandIt v1) configs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from splifft_plugin_bandit.v1.msst import import_msst
from splifft_plugin_bandit.v1.params import BanditParams

from splifft_core.errors import MsstConfigError
from splifft_core.msst import load_msst_yaml

# The values of MSST's `configs/config_dnr_bandit_bsrnn_multi_mus64.yaml` (BandIt Plus, DnR).
CONFIG_YAML = """\
name: "MultiMaskMultiSourceBandSplitRNN"
audio:
  chunk_size: 264600
  num_channels: 2
  sample_rate: 44100
  min_mean_abs: 0.001
model:
  in_channel: 1
  stems: ['speech', 'music', 'effects']
  band_specs: "musical"
  n_bands: 64
  fs: 44100
  require_no_overlap: false
  require_no_gap: true
  normalize_channel_independently: false
  treat_channel_as_feature: true
  n_sqm_modules: 8
  emb_dim: 128
  rnn_dim: 256
  bidirectional: true
  rnn_type: "GRU"
  mlp_dim: 512
  hidden_activation: "Tanh"
  hidden_activation_kwargs: null
  complex_mask: true
  n_fft: 2048
  win_length: 2048
  hop_length: 512
  window_fn: "hann_window"
  wkwargs: null
  power: null
  center: true
  normalized: true
  pad_mode: "constant"
  onesided: true
training:
  batch_size: 4
  instruments:
  - speech
  - music
  - effects
  target_instrument: null
  use_amp: true
augmentations:
  enable: true
  mixup_probs: !!python/tuple
    - 0.2
    - 0.02
inference:
  batch_size: 1
  dim_t: 256
  num_overlap: 4
"""


def config(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "config_dnr_bandit_bsrnn_multi_mus64.yaml"
    path.write_text(CONFIG_YAML)
    return load_msst_yaml(path)


def test_stock_config(tmp_path: Path) -> None:
    result = import_msst(config(tmp_path))
    params = BanditParams.model_validate(result["params"])
    assert params == BanditParams()
    assert params.output_stem_names == ("speech", "music", "effects")
    assert (params.chunk_size, params.sample_rate, params.audio_channels) == (264600, 44100, 2)
    assert (params.band_specs, params.n_bands, params.rnn_type) == ("musical", 64, "GRU")
    assert result["inference"] == {
        "chunk_size": None,
        "overlap_ratio": 0.75,
        "batch_size": 1,
        "window_shape": "linear_fade",
        "chunk_layout": "msst",
        "hop_size": 264600 // 4,
    }


def test_round_trips_through_json(tmp_path: Path) -> None:
    params = import_msst(config(tmp_path))["params"]
    assert BanditParams.model_validate(params).model_dump(mode="json") == params


def test_the_manifest_matches_the_stock_config(tmp_path: Path) -> None:
    registry = Path(__file__).parents[3] / "registry" / "bandit-watcharasupat-dnr_plus_mus64.json"
    manifest = json.loads(registry.read_text())
    assert manifest["params"] == import_msst(config(tmp_path))["params"]


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        ("musical", "musical"),
        ("dnr:musical", "musical"),
        ("mel", "mel"),
        ("dnr:mel", "mel"),
        ("dnr:speech", "vox7"),
        ("dnr:vox7", "vox7"),
        ("musdb:vocals", "vox7"),
        ("musdb:vox7", "vox7"),
    ],
)
def test_band_spec_names(tmp_path: Path, name: str, ours: str) -> None:
    raw = config(tmp_path)
    raw["model"]["band_specs"] = name
    assert import_msst(raw)["params"]["band_specs"] == ours


def test_stft_keys_msst_ignores_are_dropped(tmp_path: Path) -> None:
    """MSST's wrapper always runs its default STFT; these keys never reach it."""
    raw = config(tmp_path)
    raw["model"].update(hop_length=441, win_length=1024, window_fn="hamming_window", cond_dim=2)
    assert import_msst(raw)["params"] == import_msst(config(tmp_path))["params"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["model"].update(kernel=7), r"unknown key\(s\) model.kernel"),
        (lambda c: c["model"].pop("stems"), r"missing required key model.stems"),
        (lambda c: c["model"].pop("band_specs"), r"missing required key model.band_specs"),
        (lambda c: c["model"].update(band_specs="dnr:erb"), "erb bands"),
        (lambda c: c["model"].update(band_specs="tribark"), "tribark bands"),
        (lambda c: c["model"].update(band_specs="linear"), "unknown model.band_specs"),
        (lambda c: c["model"].update(in_channel=2), "model.in_channel=2"),
        (lambda c: c["model"].update(n_fft=1024), "model.n_fft=1024"),
        (lambda c: c["model"].update(mult_add_mask=True), "model.mult_add_mask"),
        (lambda c: c["model"].update(power=2), "model.power"),
        (lambda c: c["model"].update(rnn_type="SRU"), "rnn_type"),
        (lambda c: c["audio"].update(sample_rate=48000), "differs from model.fs"),
        (lambda c: c["audio"].update(dim_f=1024), r"audio.dim_f"),
        (lambda c: c["inference"].update(tta=True), r"inference.tta"),
        (lambda c: c["inference"].update(num_overlap=0), "num_overlap"),
        (lambda c: c["training"].update(model_type="bandit_v2"), "not 'bandit'"),
    ],
)
def test_rejects(tmp_path: Path, edit: Any, message: str) -> None:
    raw = copy.deepcopy(config(tmp_path))
    edit(raw)
    with pytest.raises(MsstConfigError, match=message):
        import_msst(raw)
