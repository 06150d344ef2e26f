"""The core's contract kit, params and manifests for BandIt v1."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from splifft_plugin_bandit.v1 import SPEC, BanditParams

from splifft_core.config import InferenceConfig
from splifft_core.testing import check_architecture, check_manifests

TINY: dict[str, Any] = {
    "chunk_size": 4096,
    "output_stem_names": ["speech", "music", "effects"],
    "n_bands": 6,
    "n_sqm_modules": 1,
    "emb_dim": 8,
    "rnn_dim": 8,
    "mlp_dim": 8,
    "n_fft": 256,
    "win_length": 256,
    "hop_length": 64,
}


def test_contract_kit() -> None:
    check_architecture(SPEC, TINY)


def test_contract_kit_mono_mel_overlap() -> None:
    params = {
        **TINY,
        "chunk_size": 2048,
        "audio_channels": 1,
        "band_specs": "mel",
        "rnn_type": "LSTM",
    }
    check_architecture(SPEC, params, inference=InferenceConfig(overlap_ratio=0.75, batch_size=3))


def test_contract_kit_vox7_real_masks() -> None:
    params = {
        **TINY,
        "chunk_size": 2048,
        "band_specs": "vox7",
        "n_fft": 512,
        "win_length": 512,
        "complex_mask": False,
    }
    check_architecture(SPEC, params)


def test_spec() -> None:
    assert SPEC.name == "bandit"
    assert SPEC.msst_model_types == ("bandit",)
    assert SPEC.archetype == "waveform"
    assert SPEC.model_factory == "splifft_plugin_bandit.v1.network:build"


def test_import_is_torch_free() -> None:
    code = "import sys, splifft_plugin_bandit.v1; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden": 3}, "Extra inputs are not permitted"),
        ({"band_specs": "bark"}, "band_specs"),
        ({"win_length": 512}, "exceeds n_fft"),
        ({"n_bands": 200}, "exceeds the 129 frequency bins"),
        ({"band_specs": "vox7", "sample_rate": 32000}, "reach 20 kHz"),
        ({"output_stem_names": ["speech", "speech"]}, "repeat a stem"),
        ({"rnn_type": "SRU"}, "rnn_type"),
    ],
)
def test_params_reject(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BanditParams.model_validate({**TINY, **change})


def test_manifests() -> None:
    """The catalogue's BandIt v1 models; their params build (on the CPU: the bands are data)."""
    checked = check_manifests(SPEC, plugin="splifft-plugin-bandit", build="all", device="cpu")
    assert checked == ["bandit-watcharasupat-dnr_plus_mus64"]
