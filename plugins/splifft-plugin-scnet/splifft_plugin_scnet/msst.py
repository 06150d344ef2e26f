"""Map Music-Source-Separation-Training (MSST) `scnet`, `scnet_masked` and `scnet_tran` yamls
onto our params (torch-free).

Read: `audio`, `model` (the constructor's arguments; absent ones take its defaults, as
`SCNet(**config.model)` does) and `inference`. Unknown keys inside `audio`, `model` and
`inference` are errors; the rest of `training` and other top-level sections (augmentations,
losses, …) only matter for training and are ignored.

MSST tells the three apart by its `--model_type` flag alone. An `scnet_masked` yaml is an
`scnet` yaml, so it is taken as `scnet_masked` only when `--model-type` (or
`training.model_type`) says so; an `scnet_tran` yaml is recognised by its `tran_*` keys (or
the model type).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from splifft_core.errors import MsstConfigError
from splifft_core.msst_config import INFERENCE_KEYS, check_model_type, params_and_inference, section
from splifft_plugin_scnet.params import ScnetMaskedParams, ScnetParams, ScnetTranParams

AUDIO_KEYS = frozenset({"chunk_size", "num_channels", "sample_rate", "min_mean_abs"})
MODEL_KEYS = {
    "sources": "output_stem_names",
    "audio_channels": "audio_channels",
    "dims": "dims",
    "nfft": "n_fft",
    "hop_size": "hop_length",
    "win_size": "win_length",
    "normalized": "normalized",
    "band_SR": "band_ratios",
    "band_stride": "band_strides",
    "band_kernel": "band_kernels",
    "conv_depths": "conv_depths",
    "compress": "compress",
    "conv_kernel": "conv_kernel",
    "num_dplayer": "num_dual_path_layers",
    "expand": "expand",
}
TRAN_KEYS = {
    "tran_rotary_embedding_dim": "rotary_embedding_dim",
    "tran_depth": "transformer_depth",
    "tran_heads": "heads",
    "tran_dim_head": "dim_head",
}
TRAN_IGNORED_KEYS = frozenset({"tran_attn_dropout", "tran_ff_dropout", "tran_flash_attn"})
"""Dropouts (off at inference) and the choice of attention kernel (same result)."""
SCNET_DEFAULT_SOURCES = ("drums", "bass", "other", "vocals")


def _model_type(msst_config: Mapping[str, Any]) -> object:
    training = msst_config.get("training")
    return training.get("model_type") if isinstance(training, Mapping) else None


def _convert(
    msst_config: Mapping[str, Any],
    model_type: str,
    params_model: type[BaseModel],
    keys: Mapping[str, str],
    ignored: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    check_model_type(msst_config, model_type)
    audio = section(msst_config, "audio", AUDIO_KEYS)
    model = section(msst_config, "model", frozenset(keys) | ignored)
    inference = section(msst_config, "inference", INFERENCE_KEYS)

    raw: dict[str, Any] = {ours: model[theirs] for theirs, ours in keys.items() if theirs in model}
    raw.setdefault("output_stem_names", SCNET_DEFAULT_SOURCES)
    raw.setdefault("audio_channels", 2)
    if "num_channels" in audio and audio["num_channels"] != raw["audio_channels"]:
        raise MsstConfigError(
            f"MSST config: audio.num_channels={audio['num_channels']} differs from "
            f"model.audio_channels={raw['audio_channels']}"
        )
    if audio.get("chunk_size") is not None:
        raw["chunk_size"] = audio["chunk_size"]
    if audio.get("sample_rate") is not None:
        raw["sample_rate"] = audio["sample_rate"]
    return params_and_inference(params_model, raw, inference, model_type)


def import_msst(msst_config: Mapping[str, Any]) -> dict[str, Any]:
    return _convert(msst_config, "scnet", ScnetParams, MODEL_KEYS)


def import_msst_masked(
    msst_config: Mapping[str, Any], model_type: str | None = None
) -> dict[str, Any]:
    if "scnet_masked" not in (model_type, _model_type(msst_config)):
        raise MsstConfigError(
            "MSST config: an scnet_masked yaml reads as a plain scnet one; pass "
            "--model-type scnet_masked (or set training.model_type: scnet_masked)"
        )
    return _convert(msst_config, "scnet_masked", ScnetMaskedParams, MODEL_KEYS)


def import_msst_tran(
    msst_config: Mapping[str, Any], model_type: str | None = None
) -> dict[str, Any]:
    model = msst_config.get("model")
    named = isinstance(model, Mapping) and any(str(k).startswith("tran_") for k in model)
    if not named and "scnet_tran" not in (model_type, _model_type(msst_config)):
        raise MsstConfigError(
            "MSST config: no model.tran_* keys (pass --model-type scnet_tran, or set "
            "training.model_type: scnet_tran, to import a yaml without them as scnet_tran)"
        )
    return _convert(
        msst_config, "scnet_tran", ScnetTranParams, {**MODEL_KEYS, **TRAN_KEYS}, TRAN_IGNORED_KEYS
    )
