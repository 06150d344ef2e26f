"""Importing MSST-style yaml configs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from splifft_plugin_roformer import BS_ROFORMER, MEL_ROFORMER
from splifft_plugin_roformer.params import DEFAULT_FREQS_PER_BANDS

from splifft_core.errors import MsstConfigError
from splifft_core.models import resolve

VIPERX_BS = """
audio:
  chunk_size: 352800
  dim_f: 1024
  dim_t: 801
  hop_length: 441
  n_fft: 2048
  num_channels: 2
  sample_rate: 44100
  min_mean_abs: 0.000
model:
  dim: 512
  depth: 12
  stereo: true
  num_stems: 1
  time_transformer_depth: 1
  freq_transformer_depth: 1
  linear_transformer_depth: 0
  freqs_per_bands: [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 12, 12, 12, 12, 12, 12, 12, 12,
    24, 24, 24, 24, 24, 24, 24, 24, 48, 48, 48, 48, 48, 48, 48, 48, 128, 129]
  dim_head: 64
  heads: 8
  attn_dropout: 0.1
  ff_dropout: 0.1
  flash_attn: true
  dim_freqs_in: 1025
  stft_n_fft: 2048
  stft_hop_length: 441
  stft_win_length: 2048
  stft_normalized: false
  mask_estimator_depth: 2
  multi_stft_resolution_loss_weight: 1.0
  multi_stft_resolutions_window_sizes: [4096, 2048, 1024, 512, 256]
  multi_stft_hop_size: 147
  multi_stft_normalized: False
training:
  batch_size: 2
  instruments: [vocals, other]
  target_instrument: vocals
  use_amp: true
inference:
  batch_size: 4
  dim_t: 801
  num_overlap: 2
"""

KIM_MEL = """
audio: {chunk_size: 352800, dim_f: 1024, dim_t: 256, hop_length: 441, n_fft: 2048,
        num_channels: 2, sample_rate: 44100, min_mean_abs: 0.0}
model:
  dim: 384
  depth: 6
  stereo: true
  num_stems: 1
  time_transformer_depth: 1
  freq_transformer_depth: 1
  num_bands: 60
  dim_head: 64
  heads: 8
  attn_dropout: 0
  ff_dropout: 0
  flash_attn: True
  dim_freqs_in: 1025
  sample_rate: 44100
  stft_n_fft: 2048
  stft_hop_length: 441
  stft_win_length: 2048
  stft_normalized: False
  mask_estimator_depth: 2
  multi_stft_resolution_loss_weight: 1.0
  multi_stft_resolutions_window_sizes: [4096, 2048, 1024, 512, 256]
  multi_stft_hop_size: 147
  multi_stft_normalized: False
training: {instruments: [vocals, other], target_instrument: vocals}
inference: {batch_size: 1, dim_t: 256, num_overlap: 4}
"""

MULTI_STEM = """
audio: {chunk_size: 131584, sample_rate: 44100, num_channels: 2}
model: {dim: 384, depth: 8, stereo: true, num_stems: 4, num_bands: 60,
        mask_estimator_depth: 2, mlp_expansion_factor: 4, skip_connection: false}
training: {instruments: [bass, drums, other, vocals], target_instrument: null}
"""


def _import(spec_name: str, text: str) -> dict[str, Any]:
    spec = BS_ROFORMER if spec_name == "bs" else MEL_ROFORMER
    assert spec.msst_import is not None
    result: dict[str, Any] = resolve(spec.msst_import)(yaml.safe_load(text))
    spec.parse_params(result["params"])
    return result


def test_viperx_bs_roformer() -> None:
    result = _import("bs", VIPERX_BS)
    params = result["params"]
    assert params["chunk_size"] == 352800
    assert params["output_stem_names"] == ["vocals"]
    assert tuple(params["freqs_per_bands"]) == DEFAULT_FREQS_PER_BANDS
    assert params["stft_hop_length"] == 441 and params["sample_rate"] == 44100
    assert result["inference"] == {
        "chunk_size": None,
        "overlap_ratio": 0.5,
        "batch_size": 4,
        "chunk_layout": "msst",
        "window_shape": "linear_fade",
        "hop_size": 352800 // 2,
    }
    assert BS_ROFORMER.msst_model_types == ("bs_roformer",)


def test_kim_mel_band_roformer() -> None:
    result = _import("mel", KIM_MEL)
    assert result["params"]["num_bands"] == 60
    assert result["inference"]["overlap_ratio"] == pytest.approx(0.75)
    assert MEL_ROFORMER.msst_model_types == ("mel_band_roformer",)


def test_instruments_become_stems() -> None:
    result = _import("mel", MULTI_STEM)
    assert result["params"]["output_stem_names"] == ["bass", "drums", "other", "vocals"]
    assert result["inference"]["overlap_ratio"] is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["model"].update(use_hyper_connections=True), "use_hyper_connections"),
        (
            lambda c: c["model"].update(mask_estimator_refiner_depth=4),
            "mask_estimator_refiner_depth",
        ),
        (lambda c: c["model"].update(num_stems=2), "target_instrument"),
        (lambda c: c["audio"].pop("chunk_size"), "chunk_size"),
        (lambda c: c["audio"].update(num_channels=1), "num_channels"),
        (lambda c: c["audio"].update(mystery=1), "mystery"),
        (lambda c: c["model"].update(freqs_per_bands=[1, 2]), "freqs_per_bands"),
        (lambda c: c["inference"].update(num_overlap=0), "num_overlap"),
        (lambda c: c.pop("model"), "model"),
    ],
)
def test_rejects(edit: Any, message: str) -> None:
    config = yaml.safe_load(VIPERX_BS)
    edit(config)
    with pytest.raises(MsstConfigError, match=message):
        _import("bs", yaml.safe_dump(config))


def test_inference_chunk_size_and_normalize() -> None:
    config = yaml.safe_load(VIPERX_BS)
    config["inference"].update(chunk_size=485100, normalize=True)
    result = _import("bs", yaml.safe_dump(config))
    assert result["inference"]["chunk_size"] == 485100
    assert result["inference"]["normalize"] is True
