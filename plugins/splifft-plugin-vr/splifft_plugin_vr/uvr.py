"""`splifft import-uvr` for VR Architecture `.pth` files (torch-free).

UVR keys its VR model data by the file's hash (`splifft_core.uvr.uvr_model_hash`):
`vr_model_param` (the band layout), `primary_stem`, and for VR 5.1 networks `nout`/`nout_lstm`
(plus `is_karaoke`, `is_bv_model`, which only label the stems). The shipped table
`data/model_data.json` is application_data's `vr_model_data` (regenerate with
`scripts/make_vr_tables.py`). The network is chosen as UVR does: VR 5.1 (`CascadedNet`) when the
data gives `nout`/`nout_lstm` or the file's size in KiB is nearest 56817 or 218409, else the
cascaded ASPP network of the nearest size.

Stem names: `Vocals` → `vocals`, `Instrumental` → `instrum`, others lowercased with `_`
(`No Echo` → `no_echo`, `Noise` → `noise`). The secondary stem is UVR's (`splifft_core.uvr.uvr_secondary_stem`):
Vocals ↔ Instrumental, otherwise `No X` ↔ `X`; the network outputs both (the mask and its
complement), so no stem is derived.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from splifft_core.errors import UvrModelDataError
from splifft_core.uvr import uvr_secondary_stem, uvr_stem_name
from splifft_plugin_vr.params import LSTM_ARCH_SIZES, band_layouts

UVR_ARCH_SIZES = (31191, 33966, 56817, 123821, 123812, 129605, 218409, 537238, 537227)
"""UVR's `nn_arch_sizes`, in its order (the first wins a tie)."""
CHUNKED_INFERENCE: dict[str, Any] = {
    "overlap_ratio": 0.1,
    "window_shape": "linear_fade",
    "edge_padding": 0,
    "padding_mode": "constant",
}
"""Chunks of 30 s crossfaded over 3 s; no padding before the track, zeros after it (the chunk
model cuts trailing zeros off, so a track shorter than a chunk is exactly UVR's)."""


@cache
def uvr_table() -> dict[str, dict[str, Any]]:
    """The shipped table: UVR model hash → vr_model_param, primary_stem, nout, nout_lstm, …"""
    text = resources.files("splifft_plugin_vr").joinpath("data/model_data.json").read_text()
    table: dict[str, dict[str, Any]] = json.loads(text)
    return table


def arch_size(size_bytes: int) -> int:
    """UVR's `nn_arch_size`: the known size (KiB) nearest the file's."""
    kib = math.ceil(size_bytes / 1024)
    return min(UVR_ARCH_SIZES, key=lambda s: abs(s - kib))


def params_from_model_data(entry: Mapping[str, Any], size_bytes: int, name: str) -> dict[str, Any]:
    layout_name = entry.get("vr_model_param")
    if not isinstance(layout_name, str) or layout_name not in band_layouts():
        raise UvrModelDataError(
            f"{name}: VR model data has no known vr_model_param ({layout_name!r})"
        )
    primary = str(entry.get("primary_stem") or "Vocals")
    size = arch_size(size_bytes)
    params: dict[str, Any] = {
        "band_layout": layout_name,
        "sample_rate": band_layouts()[layout_name].sr,
        "output_stem_names": [uvr_stem_name(primary), uvr_stem_name(uvr_secondary_stem(primary))],
        "uvr_primary_stem": primary,
        "arch_size": size,
    }
    if ("nout" in entry and "nout_lstm" in entry) or size in LSTM_ARCH_SIZES:
        params["network"] = "cascaded_lstm"
        params["nout"] = int(entry.get("nout", 32))
        params["nout_lstm"] = int(entry.get("nout_lstm", 128))
    else:
        params["network"] = "cascaded_aspp"
    return params


def import_uvr(
    model_file: Path, model_hash: str, model_data: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A UVR VR `.pth` → `{"params", "inference", "description"}`."""
    entry = model_data if model_data is not None else uvr_table().get(model_hash)
    if entry is None:
        raise UvrModelDataError(
            f"{model_file.name}: no VR model data for hash {model_hash} (pass UVR's entry: "
            "vr_model_param, primary_stem)"
        )
    params = params_from_model_data(entry, model_file.stat().st_size, model_file.name)
    labels = [k for k in ("is_karaoke", "is_bv_model") if entry.get(k)]
    description = (
        f"UVR VR Architecture model ({params['network']}, {params['band_layout']}); primary "
        f"stem {params['uvr_primary_stem']}" + (f" ({', '.join(labels)})" if labels else "") + "."
    )
    return {"params": params, "inference": dict(CHUNKED_INFERENCE), "description": description}
