"""Importing MSST `bs_conformer` / `mel_band_conformer` yaml configs, and the contract kit."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from splifft_plugin_roformer import BS_CONFORMER, MEL_CONFORMER, MEL_ROFORMER
from splifft_plugin_roformer.params import DEFAULT_FREQS_PER_BANDS

from splifft_core.errors import MsstConfigError
from splifft_core.models import resolve
from splifft_core.testing import check_architecture, check_stem_selection

# the shape of MSST's configs/config_vocals_bs_conformer.yaml
VOCALS_BS = f"""
audio: {{chunk_size: 352800, dim_f: 1024, dim_t: 256, hop_length: 441, n_fft: 2048,
        num_channels: 2, sample_rate: 44100, min_mean_abs: 0.0}}
model:
  dim: 256
  depth: 12
  stereo: true
  num_stems: 1
  time_conformer_depth: 1
  freq_conformer_depth: 1
  freqs_per_bands: {list(DEFAULT_FREQS_PER_BANDS)}
  dim_head: 64
  heads: 8
  attn_dropout: 0
  ff_dropout: 0
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
  multi_stft_normalized: false
  mlp_expansion_factor: 4
  ff_mult: 4
  conv_expansion_factor: 2
  conv_kernel_size: 31
  use_torch_checkpoint: false
  skip_connection: false
  sage_attention: false
training: {{instruments: [vocals, other], target_instrument: vocals}}
inference: {{batch_size: 1, dim_t: 801, num_overlap: 2, normalize: false}}
"""

# the shape of MSST's configs/config_musdb18_mel_band_conformer.yaml
MUSDB_MEL = """
audio: {chunk_size: 131584, dim_f: 1024, dim_t: 256, hop_length: 512, n_fft: 2048,
        num_channels: 2, sample_rate: 44100, min_mean_abs: 0.001}
model:
  dim: 192
  depth: 8
  stereo: true
  num_stems: 4
  time_conformer_depth: 1
  freq_conformer_depth: 1
  num_bands: 60
  dim_head: 64
  heads: 8
  ff_mult: 4
  conv_expansion_factor: 2
  conv_kernel_size: 31
  attn_dropout: 0.0
  ff_dropout: 0.0
  conv_dropout: 0.0
  dim_freqs_in: 1025
  sample_rate: 44100
  stft_n_fft: 2048
  stft_hop_length: 512
  stft_win_length: 2048
  stft_normalized: false
  mask_estimator_depth: 2
  multi_stft_resolution_loss_weight: 1.0
  multi_stft_hop_size: 147
  use_torch_checkpoint: false
  skip_connection: false
  match_input_audio_length: false
training: {instruments: [vocals, bass, drums, other], target_instrument: null}
inference: {batch_size: 4, num_overlap: 4}
"""

TINY_BS: dict[str, Any] = {
    "chunk_size": 4096,
    "output_stem_names": ["vocals", "other"],
    "dim": 8,
    "depth": 1,
    "stereo": True,
    "heads": 2,
    "dim_head": 4,
    "time_conformer_depth": 1,
    "freq_conformer_depth": 1,
    "linear_conformer_depth": 1,
    "ff_mult": 2,
    "conv_kernel_size": 7,
    "stft_n_fft": 256,
    "stft_hop_length": 64,
    "stft_win_length": 256,
    "freqs_per_bands": [64, 64, 1],
    "skip_connection": True,
}
TINY_MEL: dict[str, Any] = {
    "chunk_size": 4096,
    "output_stem_names": ["vocals"],
    "sample_rate": 16000,
    "dim": 8,
    "depth": 1,
    "heads": 2,
    "dim_head": 4,
    "time_conformer_depth": 1,
    "freq_conformer_depth": 1,
    "conv_kernel_size": 5,
    "num_bands": 8,
    "stft_n_fft": 256,
    "stft_hop_length": 64,
    "stft_win_length": 256,
}


def _import(spec: Any, text: str) -> dict[str, Any]:
    assert spec.msst_import is not None
    result: dict[str, Any] = resolve(spec.msst_import)(yaml.safe_load(text))
    spec.parse_params(result["params"])
    return result


def test_vocals_bs_conformer() -> None:
    result = _import(BS_CONFORMER, VOCALS_BS)
    params = result["params"]
    assert params["output_stem_names"] == ["vocals"]
    assert tuple(params["freqs_per_bands"]) == DEFAULT_FREQS_PER_BANDS
    assert params["conv_kernel_size"] == 31 and params["sample_rate"] == 44100
    assert result["inference"]["overlap_ratio"] == 0.5
    assert BS_CONFORMER.msst_model_types == ("bs_conformer",)


def test_musdb_mel_band_conformer() -> None:
    result = _import(MEL_CONFORMER, MUSDB_MEL)
    assert result["params"]["output_stem_names"] == ["vocals", "bass", "drums", "other"]
    assert result["inference"]["overlap_ratio"] == pytest.approx(0.75)
    assert MEL_CONFORMER.msst_model_types == ("mel_band_conformer",)


def test_roformer_configs_are_not_conformer_configs() -> None:
    """A roformer config at its defaults would otherwise fit both when the type is inferred."""
    minimal = """
audio: {chunk_size: 131584, sample_rate: 44100, num_channels: 2}
model: {dim: 384, depth: 8, stereo: true, num_stems: 1, num_bands: 60}
training: {instruments: [vocals, other], target_instrument: vocals}
"""
    with pytest.raises(MsstConfigError, match="not a conformer config"):
        _import(MEL_CONFORMER, minimal)
    assert MEL_ROFORMER.msst_import is not None
    resolve(MEL_ROFORMER.msst_import)(yaml.safe_load(minimal))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["model"].update(time_transformer_depth=1), "time_transformer_depth"),
        (lambda c: c["model"].update(use_pope=True), "use_pope"),
        (lambda c: c["model"].update(conv_kernel_size=30), "odd"),
        (lambda c: c["model"].update(num_stems=2), "target_instrument"),
        (lambda c: c["model"].update(freqs_per_bands=[1, 2]), "freqs_per_bands"),
        (lambda c: c["audio"].update(num_channels=1), "num_channels"),
    ],
)
def test_rejects(edit: Any, message: str) -> None:
    config = yaml.safe_load(VOCALS_BS)
    edit(config)
    with pytest.raises(MsstConfigError, match=message):
        _import(BS_CONFORMER, yaml.safe_dump(config))


def test_contract_bs_conformer() -> None:
    check_architecture(BS_CONFORMER, TINY_BS)


def test_contract_mel_conformer() -> None:
    check_architecture(MEL_CONFORMER, TINY_MEL)


def test_stem_selection_skips_the_other_mask_estimators() -> None:
    check_stem_selection(BS_CONFORMER, TINY_BS, ["other"], saves="compute")


def test_params() -> None:
    mel = MEL_CONFORMER.parse_params(TINY_MEL)
    assert mel.mask_estimator_depth == 1  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="odd"):
        MEL_CONFORMER.parse_params({**TINY_MEL, "conv_kernel_size": 4})
    with pytest.raises(ValidationError, match="sums to 128"):
        BS_CONFORMER.parse_params({**TINY_BS, "freqs_per_bands": [64, 64]})
