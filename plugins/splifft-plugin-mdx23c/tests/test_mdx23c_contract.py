"""The core's contract kit, plugin registration and manifests for MDX23C."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import splifft_plugin_mdx23c
import torch
from splifft_plugin_mdx23c import SPEC, Mdx23cParams

from splifft_core.config import InferenceConfig
from splifft_core.manifest import Manifest
from splifft_core.testing import check_architecture

TINY: dict[str, Any] = {
    "chunk_size": 1984,
    "output_stem_names": ["vocals", "other"],
    "n_fft": 256,
    "hop_length": 64,
    "dim_f": 64,
    "num_subbands": 2,
    "num_scales": 2,
    "num_blocks_per_scale": 1,
    "hidden_channels": 8,
    "growth": 4,
    "bottleneck_factor": 2,
}


def test_contract_kit() -> None:
    check_architecture(SPEC, TINY)


def test_contract_kit_batchnorm_target() -> None:
    params = {**TINY, "norm": "BatchNorm", "act": "relu", "output_stem_names": ["dry"]}
    check_architecture(SPEC, params, inference=InferenceConfig(overlap_ratio=0.75, batch_size=3))


def test_contract_kit_other_chunk_size() -> None:
    """A run-time chunk size the U-Net cannot halve enough is padded inside the network."""
    check_architecture(SPEC, TINY, inference=InferenceConfig(chunk_size=1500, overlap_ratio=0.5))


def test_contract_kit_mono() -> None:
    """MSST's own STFT inverse assumes stereo; ours handles any channel count."""
    check_architecture(SPEC, {**TINY, "audio_channels": 1, "norm": "GroupNorm2", "act": "elu1.0"})


def test_hooks() -> None:
    assert splifft_plugin_mdx23c.splifft_architectures() == [SPEC]
    assert SPEC.name == "mdx23c"
    assert SPEC.msst_model_types == ("mdx23c",)


def test_import_is_torch_free() -> None:
    code = "import sys, splifft_plugin_mdx23c; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden": 3}, "Extra inputs are not permitted"),
        ({"norm": "LayerNorm"}, "unknown norm"),
        ({"act": "swish"}, "unknown act"),
        ({"chunk_size": 2000}, "multiple of hop_length"),
        ({"chunk_size": 64 * 32}, "not a multiple of scale"),
        ({"dim_f": 60}, "divisible"),
        ({"dim_f": 256}, "exceeds"),
    ],
)
def test_params_reject(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Mdx23cParams.model_validate({**TINY, **change})


MANIFESTS = splifft_plugin_mdx23c.splifft_manifests()


def test_manifests_exist() -> None:
    assert MANIFESTS


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: getattr(p, "stem", "dict"))
def test_manifest_valid(path: Any) -> None:
    manifest = Manifest.model_validate(json.loads(path.read_text()))
    assert manifest.architecture == "mdx23c"
    assert manifest.identifier.startswith("mdx23c-kim-")
    params = Mdx23cParams.model_validate(manifest.params)
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
