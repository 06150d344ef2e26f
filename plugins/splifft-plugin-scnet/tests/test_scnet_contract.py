"""The core's contract kit, plugin registration and manifests for MDX23C."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import splifft_plugin_scnet
import torch
from splifft_plugin_scnet import SPEC, ScnetParams

from splifft_core.config import InferenceConfig
from splifft_core.manifest import Manifest
from splifft_core.testing import check_architecture

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
    assert splifft_plugin_scnet.splifft_architectures() == [SPEC]
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


MANIFESTS = splifft_plugin_scnet.splifft_manifests()


def test_manifests_exist() -> None:
    assert MANIFESTS


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: getattr(p, "stem", "dict"))
def test_manifest_valid(path: Any) -> None:
    manifest = Manifest.model_validate(json.loads(path.read_text()))
    assert manifest.architecture == "scnet"
    assert manifest.identifier.startswith("scnet-tong-")
    params = ScnetParams.model_validate(manifest.params)
    assert list(params.output_stem_names) == manifest.stems
    assert params.sample_rate == manifest.sample_rate
    assert params.audio_channels == manifest.channels


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: getattr(p, "stem", "dict"))
def test_manifest_params_fit_the_checkpoint_size(path: Any) -> None:
    """The weights these params need come within pickling overhead of the published file size."""
    manifest = Manifest.model_validate(json.loads(path.read_text()))
    sizes = [r.size for r in manifest.weight_resources() if r.size is not None]
    if not sizes:
        pytest.skip("no published size")
    with torch.device("meta"):
        network = SPEC.build_model(SPEC.parse_params(manifest.params))
    tensor_bytes = sum(t.numel() * t.element_size() for t in network.state_dict().values())
    assert 0 < sizes[0] - tensor_bytes < 256 * 1024
