"""Manifests for ensemble tests: two `probe` models (different rates, chunking and stem names)
and an ensemble preset of them. Register with `probe`."""

from __future__ import annotations

from typing import Any

from splifft_core.hookspecs import hookimpl


@hookimpl
def splifft_manifests() -> list[dict[str, Any]]:
    return [
        {
            "identifier": "probe-test-a",
            "architecture": "probe",
            "params": {"chunk_size": 4096, "stems": ["vocals", "instrumental"], "gains": [1, -0.5]},
            "stems": ["vocals", "instrumental"],
            "sample_rate": 44100,
            "channels": 2,
            "inference": {"overlap_ratio": 0.5, "batch_size": 2},
        },
        {
            "identifier": "probe-test-b",
            "architecture": "probe",
            "params": {
                "chunk_size": 3000,
                "sample_rate": 32000,
                "stems": ["vocals"],
                "gains": [0.7],
            },
            "stems": ["vocals"],
            "sample_rate": 32000,
            "channels": 2,
            "derived_stems": {"accompaniment": {"plus": ["mixture"], "minus": ["vocals"]}},
            "inference": {"overlap_ratio": 0.25, "batch_size": 3},
        },
        {
            "identifier": "probe-test-c",
            "architecture": "probe",
            "params": {"chunk_size": 2048, "stems": ["vocals", "instrum"], "gains": [0.4, 0.9]},
            "stems": ["vocals", "instrum"],
            "sample_rate": 44100,
            "channels": 2,
        },
        {
            "identifier": "ensemble-test-vocals",
            "architecture": "ensemble",
            "stems": ["vocals", "instrum"],
            "sample_rate": 44100,
            "channels": 2,
            "description": "probe a (weight 2) and c, averaged per STFT bin",
            "ensemble": {
                "members": [{"model": "probe-test-a", "weight": 2}, {"model": "probe-test-c"}],
                "type": "avg_fft",
            },
        },
    ]
