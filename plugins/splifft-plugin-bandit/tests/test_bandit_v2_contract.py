"""The core's contract kit, plugin registration and manifests for BandIt v2."""

from __future__ import annotations

import itertools
import subprocess
import sys
from typing import Any

import pytest
import splifft_plugin_bandit
from splifft_plugin_bandit.v2 import SPEC, BanditV2Params
from splifft_plugin_bandit.v2.params import musical_bands

from splifft_core.config import InferenceConfig
from splifft_core.plugins import PluginHost
from splifft_core.testing import check_architecture, check_manifests

TINY: dict[str, Any] = {
    "chunk_size": 2048,
    "sample_rate": 8000,
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


def test_contract_kit_mono_lstm_overlap() -> None:
    params = {
        **TINY,
        "audio_channels": 1,
        "output_stem_names": ["dialog", "effects"],
        "rnn_type": "LSTM",
        "bidirectional": False,
        "complex_mask": False,
        "use_freq_weights": False,
        "pad_mode": "constant",
    }
    check_architecture(SPEC, params, inference=InferenceConfig(overlap_ratio=0.75, batch_size=3))


def test_hooks() -> None:
    names = [spec.name for spec in splifft_plugin_bandit.splifft_architectures()]
    assert names == ["bandit", "bandit_v2"]
    assert SPEC in splifft_plugin_bandit.splifft_architectures()
    assert SPEC.name == "bandit_v2"
    assert SPEC.msst_model_types == ("bandit_v2",)
    assert SPEC.archetype == "waveform"


def test_host_registration() -> None:
    host = PluginHost(strict=True)
    host.register(splifft_plugin_bandit, "bandit", distribution="splifft-plugin-bandit")
    assert host.architecture("bandit_v2") == SPEC


def test_import_is_torch_free() -> None:
    code = "import sys, splifft_plugin_bandit; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_published_geometry() -> None:
    """The published model's 64 musical bands on the 2048-point grid: they cover every bin,
    overlap, and do not depend on the sample rate (MSST builds it with `fs` 44100 for 48 kHz
    audio)."""
    params = BanditV2Params()
    bands = params.band_specs
    assert params.output_stem_names == ("speech", "music", "sfx")
    assert len(bands) == 64
    assert bands[0][0] == 0 and bands[-1][1] == 1025
    assert all(a[1] > b[0] for a, b in itertools.pairwise(bands))  # overlapping
    assert musical_bands(2048, 44100, 64) == bands
    for weights, (start, end) in zip(params.freq_weights, bands, strict=True):
        assert len(weights) == end - start
        assert all(0 < w <= 1 for w in weights)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden": 3}, "Extra inputs are not permitted"),
        ({"n_fft": 255}, "must be even"),
        ({"win_length": 512}, "exceeds n_fft"),
        ({"output_stem_names": ["a", "a"]}, "repeat a stem"),
        ({"output_stem_names": ["a.b"]}, "without '.'"),
        ({"n_bands": 1}, "at least 2"),
        ({"rnn_type": "Mamba"}, "Input should be"),
        ({"chunk_size": 100}, "reflect padding"),
    ],
)
def test_params_reject(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BanditV2Params.model_validate({**TINY, **change})


def test_manifests() -> None:
    """The catalogue's BandIt v2 models; their params fit the published checkpoint sizes."""
    checked = check_manifests(SPEC, plugin="splifft-plugin-bandit", build="all")
    assert sorted(checked) == sorted(
        f"bandit_v2-watcharasupat-dnr_v3_{name}"
        for name in ("multi", "multi_uvr", "cmn", "deu", "eng", "fao", "fra", "spa")
    )
