"""`import-msst` for MSST `bandit_v2` configs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from splifft_plugin_bandit.v2.msst import import_msst
from splifft_plugin_bandit.v2.params import BanditV2Params

from splifft_core.errors import MsstConfigError
from splifft_core.msst import load_msst_yaml

REGISTRY = Path(__file__).parents[3] / "registry"

# MSST's `configs/config_dnr_bandit_v2_mus64.yaml` (the published DnR v3 model), as shipped.
CONFIG_YAML = """\
cls: Bandit

audio:
  chunk_size: 384000
  num_channels: 2
  sample_rate: 48000
  min_mean_abs: 0.000

kwargs:
  in_channels: 1
  stems: ['speech', 'music', 'sfx']
  band_type: musical
  n_bands: 64
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
  use_freq_weights: true
  n_fft: 2048
  win_length: 2048
  hop_length: 512
  window_fn: "hann_window"
  wkwargs: null
  power: null
  center: true
  normalized: true
  pad_mode: "reflect"
  onesided: true

training:
  batch_size: 4
  gradient_accumulation_steps: 4
  grad_clip: 0
  instruments:
  - speech
  - music
  - sfx
  lr: 9.0e-05
  patience: 2
  reduce_factor: 0.95
  target_instrument: null
  num_epochs: 1000
  num_steps: 1000
  q: 0.95
  coarse_loss_clip: true
  ema_momentum: 0.999
  optimizer: adam
  other_fix: true
  use_amp: true

augmentations:
  enable: true
  loudness: true
  loudness_min: 0.5
  loudness_max: 1.5
  mixup: true
  mixup_probs: !!python/tuple
    - 0.2
    - 0.02
  mixup_loudness_min: 0.5
  mixup_loudness_max: 1.5
  all:
    channel_shuffle: 0.5
    random_inverse: 0.1
    random_polarity: 0.5

inference:
  batch_size: 8
  dim_t: 256
  num_overlap: 4
"""


def config(tmp_path: Path, text: str = CONFIG_YAML) -> dict[str, Any]:
    path = tmp_path / "config_dnr_bandit_v2_mus64.yaml"
    path.write_text(text)
    return load_msst_yaml(path)


def test_published_config(tmp_path: Path) -> None:
    result = import_msst(config(tmp_path))
    params = BanditV2Params.model_validate(result["params"])
    assert params == BanditV2Params()
    assert params.output_stem_names == ("speech", "music", "sfx")
    assert (params.chunk_size, params.sample_rate, params.audio_channels) == (384000, 48000, 2)
    assert (params.n_sqm_modules, params.rnn_type, params.pad_mode) == (8, "GRU", "reflect")
    assert result["inference"] == {
        "chunk_size": None,
        "overlap_ratio": 0.75,
        "batch_size": 8,
        "window_shape": "linear_fade",
        "chunk_layout": "msst",
        "hop_size": 384000 // 4,
    }


def test_uvr_copy_capitalizes_instruments(tmp_path: Path) -> None:
    """UVR's `mdx_c_configs/config_dnr_bandit_v2_mus64.yaml` names the instruments `Speech`,
    `Music`, `Sfx`; the weights are named by `kwargs.stems`."""
    text = CONFIG_YAML.replace("  - speech\n  - music\n  - sfx", "  - Speech\n  - Music\n  - Sfx")
    assert import_msst(config(tmp_path, text)) == import_msst(config(tmp_path))


def test_round_trips_through_json(tmp_path: Path) -> None:
    params = import_msst(config(tmp_path))["params"]
    assert BanditV2Params.model_validate(params).model_dump(mode="json") == params


def test_the_manifests_match_the_published_config(tmp_path: Path) -> None:
    expected = import_msst(config(tmp_path))["params"]
    paths = sorted(REGISTRY.glob("bandit_v2-*.json"))
    assert paths
    for path in paths:
        assert json.loads(path.read_text())["params"] == expected, path.name


def test_reference_defaults_fill_missing_keys(tmp_path: Path) -> None:
    """Keys left out take `Bandit.__init__`'s defaults, not the published config's."""
    raw = config(tmp_path)
    for key in ("n_sqm_modules", "rnn_type", "pad_mode", "hop_length"):
        del raw["kwargs"][key]
    params = import_msst(raw)["params"]
    assert (params["n_sqm_modules"], params["rnn_type"], params["pad_mode"]) == (
        12,
        "LSTM",
        "constant",
    )
    assert params["hop_length"] == 512


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["kwargs"].update(kernel=7), r"unknown key\(s\) kwargs.kernel"),
        (lambda c: c["kwargs"].pop("stems"), r"missing required key kwargs.stems"),
        (lambda c: c["kwargs"].update(in_channels=2), r"kwargs.in_channels=2 is not supported"),
        (lambda c: c["kwargs"].update(band_type="mel"), r"kwargs.band_type='mel'"),
        (lambda c: c["kwargs"].update(power=2), r"kwargs.power=2"),
        (lambda c: c["kwargs"].update(window_fn="hamming_window"), r"kwargs.window_fn"),
        (lambda c: c["kwargs"].update(rnn_type="Mamba"), "rnn_type"),
        (lambda c: c["kwargs"].update(n_fft=1023), "must be even"),
        (lambda c: c["audio"].update(dim_f=1024), r"audio.dim_f"),
        (lambda c: c["inference"].update(tta=True), r"inference.tta"),
        (lambda c: c["inference"].update(num_overlap=0), "num_overlap"),
        (lambda c: c["training"].update(target_instrument="speech"), "target_instrument"),
        (lambda c: c["training"].update(instruments=["a", "b", "c"]), "differ from"),
        (lambda c: c["training"].update(model_type="bandit"), "not 'bandit_v2'"),
    ],
)
def test_rejects(tmp_path: Path, edit: Any, message: str) -> None:
    raw = copy.deepcopy(config(tmp_path))
    edit(raw)
    with pytest.raises(MsstConfigError, match=message):
        import_msst(raw)
