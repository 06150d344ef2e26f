"""Helpers for `msst_import` converters: reading Music-Source-Separation-Training yaml sections.

Torch-free; plugins use these so every architecture maps MSST's conventions the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splifft_core.errors import MsstConfigError


def section(config: Mapping[str, Any], name: str, known: frozenset[str]) -> dict[str, Any]:
    """`config[name]` as a dict, rejecting keys outside `known`."""
    value = config.get(name) or {}
    if not isinstance(value, Mapping):
        raise MsstConfigError(
            f"MSST config: '{name}' must be a mapping, got {type(value).__name__}"
        )
    unknown = sorted(set(value) - known)
    if unknown:
        raise MsstConfigError(
            f"MSST config: unknown key(s) {', '.join(f'{name}.{k}' for k in unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    return dict(value)


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
        raise MsstConfigError(f"MSST config: inference.num_overlap must be >= 1, got {num_overlap}")
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
