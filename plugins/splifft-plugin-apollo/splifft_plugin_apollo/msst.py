"""Map a Music-Source-Separation-Training (MSST) `apollo` yaml onto our params (torch-free).

MSST builds `model_type: apollo` as `Apollo(**config.model)` (`sr`, `win`, `feature_dim`,
`layer`, all required). Read: `audio`, `model`, `training.target_instrument` /
`training.instruments` (the one output stem) and `inference`. Unknown keys inside `audio`,
`model` and `inference` are errors; the rest of `training` and other top-level sections
(augmentations, losses, …) only matter for training and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splifft_core.errors import MsstConfigError
from splifft_core.msst_config import (
    check_model_type,
    params_and_inference,
    require,
    section,
    short,
)
from splifft_plugin_apollo.params import ApolloParams

AUDIO_KEYS = frozenset({"chunk_size", "num_channels", "sample_rate", "min_mean_abs"})
MODEL_KEYS = {"sr": "sample_rate", "win": "win_ms", "feature_dim": "feature_dim", "layer": "layers"}
INFERENCE_KEYS = frozenset({"batch_size", "num_overlap", "normalize", "chunk_size"})
DEFAULT_STEM = "restored"


def output_stem(msst_config: Mapping[str, Any]) -> str:
    """The one stem: `training.target_instrument`, else the only `training.instruments` entry
    (MSST's own config trains `['restored', 'addition']` with target `restored`)."""
    training = msst_config.get("training") or {}
    if not isinstance(training, Mapping):
        raise MsstConfigError("MSST config: 'training' must be a mapping")
    target = training.get("target_instrument")
    if target:
        return str(target)
    instruments = training.get("instruments") or [DEFAULT_STEM]
    if len(instruments) != 1:
        raise MsstConfigError(
            f"MSST config: Apollo outputs one stem, but training.instruments is "
            f"{short(instruments)} and no training.target_instrument names it"
        )
    return str(instruments[0])


def import_msst(msst_config: Mapping[str, Any]) -> dict[str, Any]:
    check_model_type(msst_config, "apollo")
    audio = section(msst_config, "audio", AUDIO_KEYS)
    model = section(msst_config, "model", frozenset(MODEL_KEYS))
    inference = section(msst_config, "inference", INFERENCE_KEYS)

    raw: dict[str, Any] = {
        ours: require(model, "model", theirs) for theirs, ours in MODEL_KEYS.items()
    }
    raw["output_stem_names"] = [output_stem(msst_config)]
    if audio.get("sample_rate") is not None and audio["sample_rate"] != raw["sample_rate"]:
        raise MsstConfigError(
            f"MSST config: audio.sample_rate={short(audio['sample_rate'])} differs from "
            f"model.sr={short(raw['sample_rate'])}"
        )
    if audio.get("num_channels") is not None:
        raw["audio_channels"] = audio["num_channels"]
    if audio.get("chunk_size") is not None:
        raw["chunk_size"] = audio["chunk_size"]
    return params_and_inference(ApolloParams, raw, inference, "apollo")
