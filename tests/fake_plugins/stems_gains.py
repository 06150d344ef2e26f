"""Manifests only: the identity architecture (`tests.fake_plugins.identity`) as a 5-stem and a
3-stem model, each stem a known gain times the mixture, for NI Stems (`stem.mp4`) tests."""

from __future__ import annotations

from typing import Any

from splifft_core.hookspecs import hookimpl

FIVE = {"vocals": 0.1, "drums": 0.2, "bass": 0.3, "piano": 0.15, "other": 0.25}
"""Spleeter 5-stem's names; NI Stems' `other` is piano + other (0.4 of the mixture)."""
THREE = {"vocals": 0.1, "drums": 0.2, "bass": 0.3}
"""No `other`: NI Stems' `other` is the mixture minus the three (0.4 of it)."""


def _manifest(identifier: str, gains: dict[str, float]) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "architecture": "identity",
        "plugin": "fake-identity",
        "params": {"chunk_size": 4096, "stems": list(gains), "gains": list(gains.values())},
        "stems": list(gains),
        "sample_rate": 44100,
        "channels": 2,
        "inference": {"overlap_ratio": 0.5, "batch_size": 2},
    }


@hookimpl
def splifft_manifests() -> list[dict[str, Any]]:
    return [_manifest("identity-test-five", FIVE), _manifest("identity-test-three", THREE)]
