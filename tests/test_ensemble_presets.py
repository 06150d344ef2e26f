"""audio-separator's community ensemble presets, shipped as ensemble manifests, stay consistent with their members."""

from __future__ import annotations

import pytest

from splifft_core.manifest import ENSEMBLE_ARCHITECTURE, Manifest
from splifft_core.registry import Registry, load_registry

# splifft run --ensemble runs members chunk by chunk; ensemble_wav needs whole tracks.
RUNNABLE_TYPES = {
    "avg_wave",
    "median_wave",
    "min_wave",
    "max_wave",
    "avg_fft",
    "median_fft",
    "min_fft",
    "max_fft",
    "uvr_max_spec",
    "uvr_min_spec",
}
SYNONYMS = {"instrumental": "instrum", "accompaniment": "instrum"}


def _stems(manifest: Manifest) -> list[str]:
    names = [*manifest.stems, *manifest.derived_stems]
    return [SYNONYMS.get(name, name) for name in names]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def _presets(registry: Registry) -> list[Manifest]:
    return [
        entry.manifest
        for entry in registry.entries.values()
        if entry.manifest.identifier.startswith("ensemble-")
    ]


def test_there_are_presets(registry: Registry) -> None:
    assert _presets(registry)


def test_presets_match_their_members(registry: Registry) -> None:
    for preset in _presets(registry):
        assert preset.architecture == ENSEMBLE_ARCHITECTURE, preset.identifier
        assert preset.ensemble is not None, preset.identifier
        assert preset.ensemble.type in RUNNABLE_TYPES, preset.identifier
        members = [registry.get(m.model).manifest for m in preset.ensemble.members]
        for member in members:
            assert member.ensemble is None, (preset.identifier, member.identifier)
        first = members[0]
        common = [s for s in _stems(first) if all(s in _stems(m) for m in members)]
        assert preset.stems == common, preset.identifier
        assert preset.sample_rate == first.sample_rate, preset.identifier
        assert preset.channels == first.channels, preset.identifier
