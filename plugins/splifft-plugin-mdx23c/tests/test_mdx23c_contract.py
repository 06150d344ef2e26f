"""The core's contract kit, plugin registration and manifests for MDX23C."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import splifft_plugin_mdx23c
from splifft_plugin_mdx23c import SPEC, Mdx23cParams

from splifft_core.config import InferenceConfig
from splifft_core.testing import check_architecture, check_manifests, check_stem_selection

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


def test_manifests() -> None:
    """The catalogue's MDX23C models; their params fit the published checkpoint sizes."""
    checked = check_manifests(
        SPEC, plugin="splifft-plugin-mdx23c", build="all", size_slack=256 * 1024
    )
    assert len(checked) == 8
    assert all(identifier.startswith("mdx23c-kim-") for identifier in checked)


def test_stem_selection() -> None:
    check_stem_selection(
        SPEC, {**TINY, "output_stem_names": ["vocals", "drums", "other"]}, ["other"]
    )
    check_stem_selection(SPEC, {**TINY, "num_subbands": 1}, ["vocals"])
