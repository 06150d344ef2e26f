"""The core's contract kit, plugin registration and manifests for Apollo."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import splifft_plugin_apollo
from splifft_plugin_apollo import SPEC, ApolloParams

from splifft_core.config import InferenceConfig
from splifft_core.plugins import PluginHost
from splifft_core.testing import check_architecture, check_manifests

TINY: dict[str, Any] = {
    "chunk_size": 1600,
    "sample_rate": 8000,
    "win_ms": 20,
    "feature_dim": 16,
    "layers": 1,
}


def test_contract_kit() -> None:
    check_architecture(SPEC, TINY)


def test_contract_kit_mono_overlap() -> None:
    params = {**TINY, "audio_channels": 1, "feature_dim": 32, "layers": 2}
    check_architecture(SPEC, params, inference=InferenceConfig(overlap_ratio=0.75, batch_size=3))


def test_hooks() -> None:
    assert splifft_plugin_apollo.splifft_architectures() == [SPEC]
    assert SPEC.name == "apollo"
    assert SPEC.msst_model_types == ("apollo",)
    assert SPEC.archetype == "waveform"


def test_host_registration() -> None:
    host = PluginHost(strict=True)
    host.register(splifft_plugin_apollo, "apollo", distribution="splifft-plugin-apollo")
    assert host.architecture("apollo") == SPEC


def test_import_is_torch_free() -> None:
    code = "import sys, splifft_plugin_apollo; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_published_geometry() -> None:
    params = ApolloParams()
    assert params.output_stem_names == ("restored",)
    assert (params.win_length, params.hop_length) == (882, 441)
    assert len(params.band_widths) == 80
    assert params.band_widths[:79] == (5,) * 79
    assert params.band_widths[-1] == 47
    assert sum(params.band_widths) == 882 // 2 + 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden": 3}, "Extra inputs are not permitted"),
        ({"win_ms": 10}, "at least 160"),
        ({"feature_dim": 24}, "even size"),
        ({"feature_dim": 8}, "even size"),
        ({"chunk_size": 80}, "reflect padding"),
        ({"output_stem_names": ["restored", "addition"]}, "at most 1"),
    ],
)
def test_params_reject(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ApolloParams.model_validate({**TINY, **change})


def test_manifests() -> None:
    """The catalogue's Apollo models; their params fit the published checkpoint sizes."""
    checked = check_manifests(SPEC, plugin="splifft-plugin-apollo", build="all")
    assert checked == ["apollo-li-mp3_restoration"]
