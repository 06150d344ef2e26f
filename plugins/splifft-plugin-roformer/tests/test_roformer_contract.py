"""The core's contract kit, params validation and the plugin's registration."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from pydantic import ValidationError
from splifft_plugin_roformer import BS_ROFORMER, MEL_ROFORMER, splifft_architectures

from splifft_core.testing import check_architecture, check_stem_selection

TINY_BS: dict[str, Any] = {
    "chunk_size": 2048,
    "output_stem_names": ["vocals", "other"],
    "dim": 8,
    "depth": 1,
    "stereo": True,
    "heads": 2,
    "dim_head": 4,
    "time_transformer_depth": 1,
    "freq_transformer_depth": 1,
    "linear_transformer_depth": 1,
    "stft_n_fft": 256,
    "stft_hop_length": 64,
    "stft_win_length": 256,
    "freqs_per_bands": [64, 64, 1],
    "skip_connection": True,
}
TINY_MEL: dict[str, Any] = {
    "chunk_size": 2048,
    "output_stem_names": ["vocals"],
    "sample_rate": 16000,
    "dim": 8,
    "depth": 2,
    "stereo": False,
    "heads": 2,
    "dim_head": 4,
    "time_transformer_depth": 1,
    "freq_transformer_depth": 1,
    "num_bands": 8,
    "stft_n_fft": 256,
    "stft_hop_length": 64,
    "stft_win_length": 256,
}


def test_contract_bs_roformer() -> None:
    check_architecture(BS_ROFORMER, TINY_BS)


def test_contract_mel_roformer() -> None:
    check_architecture(MEL_ROFORMER, TINY_MEL)


def test_stem_selection_skips_the_other_mask_estimators() -> None:
    """The pruned network keeps every weight loaded but runs only the asked stems' heads."""
    check_stem_selection(BS_ROFORMER, TINY_BS, ["other"], saves="compute")
    mel = {**TINY_MEL, "output_stem_names": ["bass", "drums", "vocals"]}
    check_stem_selection(MEL_ROFORMER, mel, ["vocals", "bass"], saves="compute")


def test_hooks() -> None:
    names = [spec.name for spec in splifft_architectures()]
    assert names == [
        "bs_roformer",
        "bs_roformer_hyperace",
        "mel_roformer",
        "bs_conformer",
        "mel_band_conformer",
    ]
    assert all(spec.stem_selection for spec in splifft_architectures())


def test_plugin_import_is_torch_free() -> None:
    import subprocess

    code = "import sys, splifft_plugin_roformer; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"use_value_residual_learning": True}, "use_value_residual_learning"),
        ({"num_residual_streams": 4}, "num_residual_streams"),
        ({"freqs_per_bands": [64, 64]}, "sums to 128"),
        ({"num_stems": 3}, "num_stems=3"),
        ({"output_stem_names": ["a", "a"]}, "unique"),
        ({"stft_win_length": 512}, "exceeds"),
    ],
)
def test_bs_params_reject(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BS_ROFORMER.parse_params({**TINY_BS, **change})


def test_params_properties() -> None:
    bs = BS_ROFORMER.parse_params(TINY_BS)
    mel = MEL_ROFORMER.parse_params(TINY_MEL)
    assert bs.audio_channels == 2 and mel.audio_channels == 1  # type: ignore[attr-defined]
    assert bs.stft.n_fft == bs.stft_n_fft and bs.stft.window == "hann"  # type: ignore[attr-defined]
    assert mel.mask_estimator_depth == 1  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="freqs_per_bands"):
        MEL_ROFORMER.parse_params({**TINY_MEL, "freqs_per_bands": [1, 2]})
