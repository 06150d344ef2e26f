"""The catalogue's roformer manifests validate and their params build."""

from __future__ import annotations

import pytest
from splifft_plugin_roformer import BS_ROFORMER, MEL_ROFORMER

from splifft_core.testing import builtin_manifests, check_manifests

PLUGIN = "splifft-plugin-roformer"


def test_bs_roformer_manifests() -> None:
    checked = check_manifests(
        BS_ROFORMER, plugin=PLUGIN, build=["bs_roformer-lu-viperx"], device="cpu"
    )
    assert len(checked) >= 21  # a lower bound: the catalogue keeps growing


def test_mel_roformer_manifests() -> None:
    checked = check_manifests(
        MEL_ROFORMER, plugin=PLUGIN, build=["mel_roformer-wang-kim_vocals"], device="cpu"
    )
    assert len(checked) >= 82


@pytest.mark.parametrize("architecture", ["bs_roformer", "mel_roformer"])
def test_every_model_names_its_checkpoint(architecture: str) -> None:
    for manifest in builtin_manifests(architecture):
        assert manifest.resources and manifest.checkpoints, manifest.identifier


def test_viperx_facts() -> None:
    (manifest,) = [m for m in builtin_manifests("bs_roformer") if m.identifier.endswith("viperx")]
    params = BS_ROFORMER.parse_params(manifest.params)
    assert (params.dim, params.depth, params.stft_hop_length) == (512, 12, 441)  # type: ignore[attr-defined]
    (resource,) = manifest.resources
    assert resource.filename == "model_bs_roformer_ep_317_sdr_12.9755.ckpt"
    assert resource.sha256 is not None
    assert manifest.metrics["vocals"]["sdr"] == pytest.approx(12.9755)
    assert "instrum" in manifest.derived_stems
