"""Music-Source-Separation-Training (MSST) `htdemucs` / `hdemucs` configs onto our params.

MSST builds the model as `Class(sources=training.instruments, audio_channels=training.channels,
samplerate=training.samplerate, segment=training.segment, **config[model_type])` (its own
HTDemucs defaults to `use_train_segment=False`). It runs `htdemucs` on chunks of
`samplerate * segment` samples every `chunk // inference.num_overlap` samples with plain
averaging, and `hdemucs` through its generic loop (`audio.chunk_size`, linear fades).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from splifft_core.errors import MsstConfigError, validation_message
from splifft_plugin_demucs.params import HDemucsParams, HTDemucsParams

# Set by the importer from `training`, not read from the model's section.
_FROM_TRAINING = {"sources", "audio_channels", "samplerate", "segment", "bag_weights"}
MODEL_KEYS = frozenset(set(HTDemucsParams.model_fields) - _FROM_TRAINING)
HDEMUCS_KEYS = frozenset(set(HDemucsParams.model_fields) - _FROM_TRAINING)
INFERENCE_KEYS = frozenset({"num_overlap", "batch_size", "normalize", "chunk_size"})


def _section(config: dict[str, Any], name: str, model_type: str) -> dict[str, Any]:
    value = config.get(name)
    if not isinstance(value, dict):
        raise MsstConfigError(f"{model_type} config: missing the '{name}' section")
    return value


def _params(
    config: dict[str, Any], model_type: str, params_model: type[BaseModel], keys: frozenset[str]
) -> BaseModel:
    model = config.get("model")
    if model is not None and model != model_type:
        raise MsstConfigError(f"{model_type} config: 'model' is {model!r}, expected {model_type!r}")
    section = _section(config, model_type, model_type)
    training = _section(config, "training", model_type)
    unknown = sorted(set(section) - keys)
    if unknown:
        raise MsstConfigError(f"{model_type} config: unknown keys in '{model_type}': {unknown}")
    for key in ("instruments", "samplerate", "segment"):
        if training.get(key) is None:
            raise MsstConfigError(f"{model_type} config: missing 'training.{key}'")
    params: dict[str, Any] = {
        key: (list(value) if isinstance(value, tuple) else value)
        for key, value in section.items()
        if value is not None
    }
    params.update(
        sources=list(training["instruments"]),
        audio_channels=int(training.get("channels", 2)),
        samplerate=int(training["samplerate"]),
        segment=float(training["segment"]),
    )
    if params_model is HTDemucsParams:
        params.setdefault("use_train_segment", False)  # MSST's HTDemucs default
    try:
        return params_model.model_validate(params)
    except ValidationError as exc:
        raise MsstConfigError(
            f"{model_type} config: {validation_message(exc, model_type)}"
        ) from None


def _inference(config: dict[str, Any], model_type: str) -> tuple[dict[str, Any], int | None]:
    inference = config.get("inference") or {}
    if not isinstance(inference, dict):
        raise MsstConfigError(f"{model_type} config: 'inference' must be a mapping")
    unknown = sorted(set(inference) - INFERENCE_KEYS)
    if unknown:
        raise MsstConfigError(f"{model_type} config: unknown keys in 'inference': {unknown}")
    if inference.get("normalize"):
        raise MsstConfigError(f"{model_type} config: inference.normalize=true is not supported")
    num_overlap = inference.get("num_overlap")
    if num_overlap is not None and (not isinstance(num_overlap, int) or num_overlap < 1):
        raise MsstConfigError(f"{model_type} config: inference.num_overlap must be an integer ≥ 1")
    return inference, num_overlap


def _dump(params: BaseModel) -> dict[str, Any]:
    dumped: dict[str, Any] = params.model_dump(mode="json", exclude_defaults=True)
    dumped["sources"] = list(getattr(params, "sources", ()))
    return dumped


def import_msst(config: dict[str, Any]) -> dict[str, Any]:
    """`htdemucs`: `{"params": …, "inference": {"chunk_size", "overlap_ratio", …}}`."""
    parsed = _params(config, "htdemucs", HTDemucsParams, MODEL_KEYS)
    assert isinstance(parsed, HTDemucsParams)
    inference, num_overlap = _inference(config, "htdemucs")
    batch_size = inference.get("batch_size")
    chunk_size = parsed.chunk_size
    return {
        "params": _dump(parsed),
        "inference": {
            "chunk_size": chunk_size,
            "overlap_ratio": 1.0 - 1.0 / num_overlap if num_overlap else None,
            "batch_size": int(batch_size) if batch_size is not None else None,
            # MSST's `demix` for htdemucs: a chunk at every hop from sample 0, no edge padding,
            # plain averaging. Its partial tail chunks are zero-padded on the right where the
            # demucs layout centres them: the closest layout the engine has.
            "hop_size": chunk_size // num_overlap if num_overlap else None,
            "chunk_layout": "centered_tail",
            "window_shape": "rectangular",
            "padding_mode": "constant",
        },
    }


def import_msst_hdemucs(config: dict[str, Any]) -> dict[str, Any]:
    """`hdemucs`: MSST's generic loop (linear fades of a tenth of the chunk, MSST edges)."""
    parsed = _params(config, "hdemucs", HDemucsParams, HDEMUCS_KEYS)
    assert isinstance(parsed, HDemucsParams)
    inference, num_overlap = _inference(config, "hdemucs")
    audio = config.get("audio") if isinstance(config.get("audio"), dict) else {}
    assert isinstance(audio, dict)
    chunk_size = inference.get("chunk_size") or audio.get("chunk_size") or parsed.chunk_size
    batch_size = inference.get("batch_size")
    return {
        "params": _dump(parsed),
        "inference": {
            "chunk_size": int(chunk_size),
            "overlap_ratio": 1.0 - 1.0 / num_overlap if num_overlap else None,
            "batch_size": int(batch_size) if batch_size is not None else None,
            "hop_size": int(chunk_size) // num_overlap if num_overlap else None,
            "window_shape": "linear_fade",
            "chunk_layout": "msst",
        },
    }
