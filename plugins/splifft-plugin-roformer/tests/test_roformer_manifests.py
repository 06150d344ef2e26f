"""The plugin's manifests validate and their params build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from splifft_plugin_roformer import BS_ROFORMER, MEL_ROFORMER, splifft_manifests

from splifft_core.manifest import Manifest

SPECS = {"bs_roformer": BS_ROFORMER, "mel_roformer": MEL_ROFORMER}
PATHS = splifft_manifests()


def test_enough_manifests() -> None:
    identifiers = {p.stem for p in PATHS}
    assert len(identifiers) >= 30
    assert {"bs_roformer-lu-viperx", "mel_roformer-wang-kim_vocals"} <= identifiers


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_manifest_is_valid(path: Path) -> None:
    manifest = Manifest.model_validate(json.loads(path.read_text()))
    assert manifest.identifier == path.stem
    assert manifest.plugin == "splifft-plugin-roformer"
    parsed = SPECS[manifest.architecture].parse_params(manifest.params)
    assert list(parsed.output_stem_names) == manifest.stems  # type: ignore[attr-defined]
    assert parsed.sample_rate == manifest.sample_rate  # type: ignore[attr-defined]
    assert parsed.audio_channels == manifest.channels  # type: ignore[attr-defined]
    assert manifest.resources and manifest.checkpoints


def test_viperx_facts() -> None:
    path = next(p for p in PATHS if p.stem == "bs_roformer-lu-viperx")
    manifest = Manifest.model_validate(json.loads(path.read_text()))
    params = BS_ROFORMER.parse_params(manifest.params)
    assert (params.dim, params.depth, params.stft_hop_length) == (512, 12, 441)  # type: ignore[attr-defined]
    (resource,) = manifest.resources
    assert resource.filename == "model_bs_roformer_ep_317_sdr_12.9755.ckpt"
    assert resource.sha256 is not None
    assert manifest.metrics["vocals"]["sdr"] == pytest.approx(12.9755)
    assert "instrum" in manifest.derived_stems
