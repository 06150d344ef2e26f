"""A fake architecture with a UVR importer for `.pth` files, built on `identity`.

Its "model data" is UVR-shaped: `{"primary_stem": "Vocals", "gain": 0.5}`; its own table knows
one hash (`KNOWN_HASHES`, filled by the test that wrote the file).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from splifft_core.errors import UvrModelDataError
from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from tests.fake_plugins.identity import GainParams

KNOWN_HASHES: dict[str, dict[str, Any]] = {}
STEMS = {"Vocals": ("vocals", "instrum"), "Reverb": ("reverb", "no_reverb")}


def import_uvr(
    model_file: Path, model_hash: str, model_data: Mapping[str, Any] | None
) -> dict[str, Any]:
    entry = model_data if model_data is not None else KNOWN_HASHES.get(model_hash)
    if entry is None:
        raise UvrModelDataError(f"{model_file}: UVR hash {model_hash} is not in the tables")
    primary = entry.get("primary_stem")
    if primary not in STEMS:
        raise UvrModelDataError(f"{model_file}: unknown primary_stem {primary!r}")
    first, second = STEMS[primary]
    return {
        "params": {"chunk_size": 1024, "stems": [first], "gains": [float(entry["gain"])]},
        "inference": {"overlap_ratio": 0.5},
        "derived_stems": {second: {"plus": ["mixture"], "minus": [first]}},
    }


GAIN_UVR = ArchitectureSpec(
    name="gain_uvr",
    params_model=GainParams,
    model_factory="tests.fake_plugins.identity:build",
    archetype="waveform",
    uvr_suffixes=(".pth",),
    uvr_import="tests.fake_plugins.uvr_gain:import_uvr",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [GAIN_UVR]
