"""`import-msst` for MSST `segm_models` configs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from splifft_plugin_segm_models.msst import import_msst
from splifft_plugin_segm_models.params import SegmModelsParams

from splifft_core.errors import MsstConfigError
from splifft_core.msst import load_msst_yaml

# The values of MSST's `configs/config_vocals_segm_models.yaml` (the VitLarge23 checkpoint's).
CONFIG_YAML = """\
audio:
  chunk_size: 261632
  dim_f: 4096
  dim_t: 512
  hop_length: 512
  n_fft: 8192
  num_channels: 2
  sample_rate: 44100
  min_mean_abs: 0.001
model:
  encoder_name: tu-maxvit_large_tf_512
  decoder_type: unet
  act: gelu
  num_channels: 128
  num_subbands: 8
loss_multistft:
  fft_sizes: [1024, 2048, 4096]
training:
  batch_size: 8
  instruments:
  - vocals
  - other
  target_instrument: null
  use_amp: true
augmentations:
  enable: true
  mixup_probs: !!python/tuple
    - 0.2
    - 0.02
inference:
  batch_size: 1
  dim_t: 512
  num_overlap: 4
"""


def config(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "config_vocals_segm_models.yaml"
    path.write_text(CONFIG_YAML)
    return load_msst_yaml(path)


def test_published_config(tmp_path: Path) -> None:
    result = import_msst(config(tmp_path))
    params = SegmModelsParams.model_validate(result["params"])
    assert params.output_stem_names == ("vocals", "other")
    assert (params.chunk_size, params.sample_rate, params.audio_channels) == (261632, 44100, 2)
    assert (params.n_fft, params.hop_length, params.dim_f) == (8192, 512, 4096)
    assert (params.num_subbands, params.hidden_channels, params.act) == (8, 128, "gelu")
    assert (params.encoder_name, params.decoder_type) == ("tu-maxvit_large_tf_512", "unet")
    assert params.decoder_options == {}
    assert result["inference"] == {
        "chunk_size": None,
        "overlap_ratio": 0.75,
        "batch_size": 1,
        "window_shape": "linear_fade",
        "chunk_layout": "msst",
        "hop_size": 261632 // 4,
    }


def test_matches_the_manifest(tmp_path: Path) -> None:
    """The catalogue's VitLarge23 params are exactly what its MSST config imports to."""
    manifest = Path(__file__).parents[3] / "registry" / "segm_models-zfturbo-vitlarge23.json"
    if not manifest.is_file():
        pytest.skip("not in the splifft source tree")
    assert json.loads(manifest.read_text())["params"] == import_msst(config(tmp_path))["params"]


def test_round_trips_through_json(tmp_path: Path) -> None:
    params = import_msst(config(tmp_path))["params"]
    assert SegmModelsParams.model_validate(params).model_dump(mode="json") == params


def test_decoder_section_of_the_chosen_type(tmp_path: Path) -> None:
    msst = config(tmp_path)
    msst["model"]["decoder_type"] = "fpn"
    msst["decoder_unet"] = {"decoder_channels": [8, 8, 8, 8, 8]}
    msst["decoder_fpn"] = {"decoder_pyramid_channels": 64, "decoder_dropout": 0.0}
    params = import_msst(msst)["params"]
    assert params["decoder_type"] == "fpn"
    assert params["decoder_options"] == {"decoder_pyramid_channels": 64, "decoder_dropout": 0.0}
    msst["model"]["decoder_type"] = "unet++"
    msst["decoder_unet_plus_plus"] = {"decoder_attention_type": "scse"}
    assert import_msst(msst)["params"]["decoder_options"] == {"decoder_attention_type": "scse"}


def test_target_instrument_wins(tmp_path: Path) -> None:
    msst = config(tmp_path)
    msst["training"]["target_instrument"] = "vocals"
    assert import_msst(msst)["params"]["output_stem_names"] == ["vocals"]


def test_chunk_size_from_dim_t(tmp_path: Path) -> None:
    msst = config(tmp_path)
    del msst["audio"]["chunk_size"]
    assert import_msst(msst)["params"]["chunk_size"] == 512 * 511


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["model"].update(attention=True), r"unknown key\(s\) model.attention"),
        (lambda c: c["audio"].update(stereo=True), r"audio.stereo"),
        (lambda c: c["inference"].update(tta=True), r"inference.tta"),
        (lambda c: c["model"].pop("encoder_name"), "missing required key model.encoder_name"),
        (lambda c: c["audio"].pop("n_fft"), "missing required key audio.n_fft"),
        (lambda c: c["training"].pop("instruments"), "training.instruments"),
        (lambda c: c["model"].update(decoder_type="segformer"), "unknown model.decoder_type"),
        (lambda c: c.update(decoder_unet=[1, 2]), "'decoder_unet' must be a mapping"),
        (lambda c: c.update(decoder_unet={"in_channels": 3}), "may not set"),
        (lambda c: c["model"].update(act="swish"), "unknown act"),
        (lambda c: c["audio"].update(chunk_size=261633), "chunk_size"),
        (lambda c: c["inference"].update(num_overlap=0), "num_overlap"),
        (lambda c: c["training"].update(model_type="mdx23c"), "not 'segm_models'"),
    ],
)
def test_rejects(tmp_path: Path, edit: Any, message: str) -> None:
    msst = copy.deepcopy(config(tmp_path))
    edit(msst)
    with pytest.raises(MsstConfigError, match=message):
        import_msst(msst)
