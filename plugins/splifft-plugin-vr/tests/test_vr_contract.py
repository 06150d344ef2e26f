"""The core's contract kit, plugin registration, params and manifests for VR."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import splifft_plugin_vr
from splifft_plugin_vr import SPEC, VrParams
from splifft_plugin_vr.params import band_layouts

from splifft_core.config import InferenceConfig
from splifft_core.plugins import PluginHost
from splifft_core.testing import check_architecture, check_manifests

TINY: dict[str, Any] = {
    "chunk_size": 8192,
    "band_layout": "1band_sr44100_hl256",
    "network": "cascaded_lstm",
    "arch_size": 56817,
    "nout": 8,
    "nout_lstm": 16,
    "window_size": 192,
    "output_stem_names": ["vocals", "instrum"],
    "uvr_primary_stem": "Vocals",
}


def test_contract_kit() -> None:
    check_architecture(SPEC, TINY)


def test_contract_kit_batched_tta() -> None:
    params = {**TINY, "tta": True, "aggression": 20}
    check_architecture(SPEC, params, inference=InferenceConfig(overlap_ratio=0.5, batch_size=2))


def test_hooks() -> None:
    assert splifft_plugin_vr.splifft_architectures() == [SPEC]
    assert SPEC.name == "vr"
    assert SPEC.uvr_suffixes == (".pth",)
    assert SPEC.uvr_import == "splifft_plugin_vr.uvr:import_uvr"


def test_host_registration() -> None:
    host = PluginHost(strict=True)
    host.register(splifft_plugin_vr, "vr", distribution="splifft-plugin-vr")
    assert host.architecture("vr") == SPEC


def test_import_is_torch_free() -> None:
    code = "import sys, splifft_plugin_vr, splifft_plugin_vr.uvr; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_band_layouts() -> None:
    layouts = band_layouts()
    assert len(layouts) == 25
    v3 = layouts["4band_v3"]
    assert (v3.bins, v3.sr, len(v3.bands)) == (672, 44100, 4)
    assert [b.sr for b in v3.bands] == [7350, 7350, 14700, 44100]
    assert layouts["4band_v4_ms_fullband"].bands[0].convert_channels == "mid_side"
    assert layouts["3band_44100_mid"].mid_side


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden": 3}, "Extra inputs are not permitted"),
        ({"band_layout": "5band"}, "unknown band_layout"),
        ({"sample_rate": 48000}, "differs from"),
        ({"network": "cascaded_aspp", "arch_size": 1}, "one of"),
        ({"window_size": 128}, "twice the network's offset"),
        ({"aggression": 101}, "less than or equal to 100"),
        ({"output_stem_names": ["vocals"]}, "at least 2"),
    ],
)
def test_params_reject(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VrParams.model_validate({**TINY, **change})


def test_manifests() -> None:
    checked = check_manifests(SPEC, plugin="splifft-plugin-vr", build="all")
    assert checked == [
        "vr-tsurumeso-17_hp_wind_inst_uvr",
        "vr-tsurumeso-uvr_bve_4b_sn_44100_1",
        "vr-tsurumeso-uvr_de_echo_aggressive",
        "vr-tsurumeso-uvr_de_echo_normal",
        "vr-tsurumeso-uvr_denoise",
        "vr-tsurumeso-uvr_denoise_lite",
    ]
