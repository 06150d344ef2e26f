"""The core's contract kit, plugin registration and manifests for SCNet."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import splifft_plugin_scnet
from splifft_plugin_scnet import SPEC, ScnetParams

from splifft_core.config import InferenceConfig
from splifft_core.testing import check_architecture, check_manifests, check_stem_selection

TINY: dict[str, Any] = {
    "chunk_size": 2000,
    "output_stem_names": ["drums", "bass", "other", "vocals"],
    "dims": [4, 8, 12],
    "n_fft": 256,
    "hop_length": 64,
    "win_length": 256,
    "num_dual_path_layers": 2,
}


def test_contract_kit() -> None:
    check_architecture(SPEC, TINY)


def test_contract_kit_one_stem() -> None:
    params = {**TINY, "output_stem_names": ["vocals"], "normalized": False, "expand": 2}
    check_architecture(SPEC, params, inference=InferenceConfig(overlap_ratio=0.75, batch_size=3))


def test_hooks() -> None:
    assert splifft_plugin_scnet.splifft_architectures() == [
        SPEC,
        splifft_plugin_scnet.MASKED_SPEC,
        splifft_plugin_scnet.TRAN_SPEC,
    ]
    assert SPEC.name == "scnet"
    assert SPEC.msst_model_types == ("scnet",)


def test_import_is_torch_free() -> None:
    code = "import sys, splifft_plugin_scnet; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden": 3}, "Extra inputs are not permitted"),
        ({"dims": [2, 8]}, "2 \\* audio_channels"),
        ({"conv_kernel": 4}, "odd"),
        ({"num_dual_path_layers": 3}, "even"),
        ({"win_length": 512}, "exceeds"),
        ({"band_ratios": [0.5, 0.5]}, "band_ratios"),
        ({"compress": 16}, "no hidden channels"),
    ],
)
def test_params_reject(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScnetParams.model_validate({**TINY, **change})


def test_manifests() -> None:
    """The catalogue's SCNet models; their params fit the published checkpoint sizes."""
    checked = check_manifests(
        SPEC, plugin="splifft-plugin-scnet", build="all", size_slack=256 * 1024
    )
    assert len(checked) == 5
    assert all(identifier.startswith("scnet-tong-") for identifier in checked)


def test_stem_selection() -> None:
    check_stem_selection(SPEC, TINY, ["vocals", "drums"])
    check_stem_selection(SPEC, {**TINY, "audio_channels": 1, "dims": [2, 6, 8]}, ["bass"])
