"""`splifft import-uvr` for MDX-Net: a UVR `.onnx` file and its model data → our params.

UVR keys its MDX-Net settings by `splifft_core.uvr.uvr_model_hash` in
`mdx_model_data/model_data*.json`; `uvr_model_data.json` next to this module is those tables in
our words (regenerate with `tools/make_uvr_model_data.py`). Stem names: `Vocals` → `vocals`,
`Instrumental` → `instrum`, any other lowercased with `_` for spaces (`Reverb` → `reverb`,
`No Crowd` → `no_crowd`). The secondary stem is UVR's (`gui_data/constants.py`
`splifft_core.uvr.uvr_secondary_stem`): Vocals ↔ Instrumental, otherwise `No X` ↔ `X`; it is derived as
`mixture − primary`, as UVR subtracts the primary (already scaled by `compensate`) from the
mixture it read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from splifft_core.errors import UvrModelDataError
from splifft_core.uvr import uvr_secondary_stem, uvr_stem_name
from splifft_plugin_mdxnet.params import UVR_HOP

UVR_KEYS = ("compensate", "mdx_dim_f_set", "mdx_dim_t_set", "mdx_n_fft_scale_set", "primary_stem")
"""The keys of an MDX-Net entry in UVR's model-data tables."""


@cache
def uvr_table() -> dict[str, dict[str, Any]]:
    """The shipped table: UVR model hash → n_fft, dim_f, dim_t, compensate, primary_stem, …"""
    text = resources.files("splifft_plugin_mdxnet").joinpath("uvr_model_data.json").read_text()
    models: dict[str, dict[str, Any]] = json.loads(text)["models"]
    return models


def _from_model_data(model_file: Path, entry: Mapping[str, Any]) -> dict[str, Any]:
    """A user's entry in UVR's layout → our table's layout."""
    if "config_yaml" in entry:
        raise UvrModelDataError(
            f"{model_file.name}: its model data names a config_yaml (an MDX23C/Roformer "
            "checkpoint), not an MDX-Net ONNX graph"
        )
    missing = [key for key in UVR_KEYS if key not in entry]
    if missing:
        raise UvrModelDataError(f"{model_file.name}: the model data lacks {', '.join(missing)}")
    try:
        return {
            "n_fft": int(entry["mdx_n_fft_scale_set"]),
            "dim_f": int(entry["mdx_dim_f_set"]),
            "dim_t": 2 ** int(entry["mdx_dim_t_set"]),
            "compensate": float(entry["compensate"]),
            "primary_stem": str(entry["primary_stem"]),
            "is_karaoke": bool(entry.get("is_karaoke", False)),
            "name": None,
        }
    except (TypeError, ValueError) as error:
        raise UvrModelDataError(f"{model_file.name}: unreadable model data ({error})") from error


def import_uvr(
    model_file: Path, model_hash: str, model_data: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A UVR MDX-Net `.onnx` → `{"params", "inference", "derived_stems", "description"}`.

    The inference defaults are UVR's: segments of `dim_t` frames, its "Default" overlap (a hop of
    `chunk_size − n_fft`, each segment's `n_fft / 2` edge samples overlapping the next), Hann
    weights, `n_fft / 2` zeros before the track and zeros after it.
    """
    model_file = Path(model_file)
    if model_data is not None:
        entry = _from_model_data(model_file, model_data)
    else:
        found = uvr_table().get(model_hash)
        if found is None:
            raise UvrModelDataError(
                f"{model_file.name}: UVR hash {model_hash} is not in UVR's MDX-Net model data; "
                "give its model data (compensate, mdx_dim_f_set, mdx_dim_t_set, "
                "mdx_n_fft_scale_set, primary_stem)"
            )
        entry = found
    primary, secondary = entry["primary_stem"], uvr_secondary_stem(entry["primary_stem"])
    ours, other = uvr_stem_name(primary), uvr_stem_name(secondary)
    n_fft, dim_t = int(entry["n_fft"]), int(entry["dim_t"])
    chunk_size = UVR_HOP * (dim_t - 1)
    params = {
        "chunk_size": chunk_size,
        "output_stem_names": [ours],
        "sample_rate": 44100,
        "audio_channels": 2,
        "n_fft": n_fft,
        "hop_length": UVR_HOP,
        "dim_f": int(entry["dim_f"]),
        "dim_t": dim_t,
        "compensate": float(entry["compensate"]),
    }
    inference = {
        "hop_size": chunk_size - n_fft,
        "window_shape": "hann",
        "padding_mode": "constant",
        "edge_padding": n_fft // 2,
        "chunk_layout": "uvr",
    }
    name = entry.get("name") or model_file.name
    karaoke = " (karaoke: lead vocals)" if entry.get("is_karaoke") else ""
    description = (
        f"UVR MDX-Net {name}: {primary}{karaoke} from a TFC-TDF-U-Net on the lowest "
        f"{entry['dim_f']} bins of an n_fft={n_fft} STFT, {dim_t}-frame segments, volume "
        f"compensation {entry['compensate']}; {secondary} = mixture − {primary}."
    )
    return {
        "params": params,
        "inference": inference,
        "derived_stems": {other: {"plus": ["mixture"], "minus": [ours]}},
        "description": description,
    }
