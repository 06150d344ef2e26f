"""A fake architecture with an MSST importer (MSST model type `gain_net`), built on `identity`."""

from __future__ import annotations

from typing import Any

from splifft_core.errors import MsstConfigError
from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from tests.fake_plugins.identity import GainParams

KNOWN = {
    "audio": {"chunk_size", "sample_rate", "num_channels", "min_mean_abs"},
    "model": {"gains"},
    "training": {"instruments", "target_instrument", "batch_size", "lr"},
    "inference": {"num_overlap", "batch_size"},
}


def import_msst(config: dict[str, Any]) -> dict[str, Any]:
    """MSST `model.gains` + `training.instruments` → GainParams; unknown keys are errors."""
    for section, known in KNOWN.items():
        values = config.get(section) or {}
        if not isinstance(values, dict):
            raise MsstConfigError(f"'{section}' must be a mapping")
        unknown = sorted(set(values) - known)
        if unknown:
            raise MsstConfigError(f"unknown key(s) {', '.join(f'{section}.{k}' for k in unknown)}")
    model = config.get("model") or {}
    if "gains" not in model:
        raise MsstConfigError("missing model.gains")
    audio = config.get("audio") or {}
    training = config.get("training") or {}
    inference = config.get("inference") or {}
    stems = training.get("instruments") or []
    target = training.get("target_instrument")
    gains = list(model["gains"])
    if target:
        stems, gains = [target], gains[stems.index(target) : stems.index(target) + 1]
    overlap = inference.get("num_overlap")
    return {
        "params": {
            "chunk_size": audio.get("chunk_size", 1024),
            "sample_rate": audio.get("sample_rate", 44100),
            "audio_channels": audio.get("num_channels", 2),
            "stems": list(stems),
            "gains": gains,
        },
        "inference": {
            "chunk_size": None,
            "overlap_ratio": None if overlap is None else 1 - 1 / overlap,
            "batch_size": inference.get("batch_size"),
        },
    }


GAIN_NET = ArchitectureSpec(
    name="gain_net",
    params_model=GainParams,
    model_factory="tests.fake_plugins.identity:build",
    archetype="waveform",
    msst_model_types=("gain_net", "gain"),
    msst_import="tests.fake_plugins.msst_gain:import_msst",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [GAIN_NET]
