"""Helpers for `msst_import` converters: reading Music-Source-Separation-Training yaml sections.

Torch-free; plugins use these so every architecture maps MSST's conventions the same way.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from splifft_core.errors import MsstConfigError

_SHORT = reprlib.Repr()
_SHORT.maxlevel = 2
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4
_SHORT.maxstring = _SHORT.maxother = 40
_SHORT.maxlong = 40


def short(value: Any, limit: int = 80) -> str:
    """`repr(value)` cut short (a few items, a few levels, at most `limit` characters) for
    quoting a config value in a message: never a whole section, and quick however big the value
    is."""
    text = " ".join(_SHORT.repr(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(config: Mapping[str, Any], name: str, known: frozenset[str]) -> dict[str, Any]:
    """`config[name]` as a dict, rejecting keys outside `known`."""
    value = config.get(name) or {}
    if not isinstance(value, Mapping):
        raise MsstConfigError(
            f"MSST config: '{name}' must be a mapping, got {type(value).__name__}"
        )
    unknown = sorted(str(k) for k in set(value) - known)
    if unknown:
        listed = ", ".join(f"{name}.{k if len(k) <= 40 else k[:39] + '…'}" for k in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise MsstConfigError(
            f"MSST config: unknown key(s) {listed}{more} (known: {', '.join(sorted(known))})"
        )
    return dict(value)


def check_model_type(config: Mapping[str, Any], expected: str) -> None:
    """`training.model_type`, when the config names one, must be `expected`."""
    training = config.get("training") or {}
    if not isinstance(training, Mapping):
        raise MsstConfigError("MSST config: 'training' must be a mapping")
    model_type = training.get("model_type")
    if model_type not in (None, expected):
        raise MsstConfigError(
            f"MSST config: training.model_type is {short(model_type)}, not {expected!r}"
        )


def require(values: Mapping[str, Any], prefix: str, key: str) -> Any:
    if values.get(key) is None:
        raise MsstConfigError(f"MSST config: missing required key {prefix}.{key}")
    return values[key]


def target_stems(config: Mapping[str, Any]) -> list[str]:
    """MSST's `prefer_target_instrument`: the target instrument alone, else all instruments."""
    training = config.get("training") or {}
    if not isinstance(training, Mapping):
        raise MsstConfigError("MSST config: 'training' must be a mapping")
    target = training.get("target_instrument")
    if target:
        return [str(target)]
    instruments = training.get("instruments")
    if not instruments:
        raise MsstConfigError("MSST config: missing training.instruments")
    return [str(i) for i in instruments]


INFERENCE_KEYS = frozenset({"batch_size", "dim_t", "num_overlap", "normalize", "chunk_size"})
"""The keys of MSST's `inference` section that `inference_settings` reads, and `dim_t`, which
older configs carry and MSST's `demix` does not use (the chunk is the model's or
`inference.chunk_size`)."""

STFT_AUDIO_KEYS = frozenset(
    {"chunk_size", "dim_f", "dim_t", "hop_length", "n_fft", "num_channels", "sample_rate"}
    | {"min_mean_abs"}  # training only (a dataset filter)
)
"""The `audio` section of MSST's configs for networks on a fixed STFT grid (MDX23C, segm_models)."""


def stft_audio(config: Mapping[str, Any]) -> dict[str, Any]:
    """Our STFT-grid params from MSST's `audio` section: `chunk_size` (from `dim_t` frames when
    an older config gives only those), `sample_rate`, `audio_channels`, `n_fft`, `hop_length`,
    `dim_f`."""
    audio = section(config, "audio", STFT_AUDIO_KEYS)
    hop_length = require(audio, "audio", "hop_length")
    chunk_size = audio.get("chunk_size")
    if chunk_size is None:
        chunk_size = hop_length * (require(audio, "audio", "dim_t") - 1)
    return {
        "chunk_size": chunk_size,
        "sample_rate": audio.get("sample_rate", 44100),
        "audio_channels": require(audio, "audio", "num_channels"),
        "n_fft": require(audio, "audio", "n_fft"),
        "hop_length": hop_length,
        "dim_f": require(audio, "audio", "dim_f"),
    }


def inference_settings(
    inference: Mapping[str, Any], chunk_size: int | None = None
) -> dict[str, Any]:
    """MSST's `demix` as our inference defaults.

    `num_overlap = N` steps by `chunk_size // N` (overlap ratio `1 - 1/N`, and the exact hop
    when the chunk size is known); linear fades of a tenth of the chunk; MSST's edge handling
    (`chunk_layout = "msst"`). `inference.chunk_size` wins over the model's, as in MSST.
    """
    num_overlap = inference.get("num_overlap")
    if num_overlap is not None and (not isinstance(num_overlap, int) or num_overlap < 1):
        raise MsstConfigError(
            f"MSST config: inference.num_overlap must be >= 1, got {short(num_overlap)}"
        )
    out: dict[str, Any] = {
        "chunk_size": inference.get("chunk_size"),
        "overlap_ratio": None if num_overlap is None else 1.0 - 1.0 / num_overlap,
        "batch_size": inference.get("batch_size"),
        "window_shape": "linear_fade",
        "chunk_layout": "msst",
    }
    chunk = inference.get("chunk_size") or chunk_size
    if num_overlap is not None and isinstance(chunk, int):
        out["hop_size"] = chunk // num_overlap
    if "normalize" in inference:
        out["normalize"] = bool(inference["normalize"])
    return out


def params_and_inference(
    params_model: type[BaseModel], raw: Mapping[str, Any], inference: Mapping[str, Any], name: str
) -> dict[str, Any]:
    """An `msst_import` result: `raw` validated into `params_model`, and the inference defaults.

    Every validation error goes into one `MsstConfigError` line naming the MSST model type `name`.
    """
    try:
        params = params_model.model_validate(dict(raw))
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {' '.join(str(e['msg']).split())}"
            for e in error.errors()[:5]
        )
        if len(details) > 400:
            details = details[:399] + "…"
        raise MsstConfigError(f"MSST {name} config does not fit our params: {details}") from None
    chunk_size = getattr(params, "chunk_size", None)
    return {
        "params": params.model_dump(mode="json"),
        "inference": inference_settings(inference, chunk_size),
    }
