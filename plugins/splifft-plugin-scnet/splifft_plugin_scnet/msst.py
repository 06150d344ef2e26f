"""Map a Music-Source-Separation-Training (MSST) `scnet` yaml onto our params (torch-free).

Read: `audio`, `model` (SCNet's constructor arguments; absent ones take SCNet's defaults, as
`SCNet(**config.model)` does) and `inference`. Unknown keys inside `audio`, `model` and
`inference` are errors; the rest of `training` and other top-level sections (augmentations,
losses, …) only matter for training and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splifft_core.errors import MsstConfigError
from splifft_core.msst_config import check_model_type, params_and_inference, section
from splifft_plugin_scnet.params import ScnetParams

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
INFERENCE_KEYS = frozenset({"batch_size", "dim_t", "num_overlap", "normalize", "chunk_size"})
SCNET_DEFAULT_SOURCES = ("drums", "bass", "other", "vocals")


def import_msst(msst_config: Mapping[str, Any]) -> dict[str, Any]:
    check_model_type(msst_config, "scnet")
    audio = section(msst_config, "audio", AUDIO_KEYS)
    model = section(msst_config, "model", frozenset(MODEL_KEYS))
    inference = section(msst_config, "inference", INFERENCE_KEYS)

    raw: dict[str, Any] = {
        ours: model[theirs] for theirs, ours in MODEL_KEYS.items() if theirs in model
    }
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
    return params_and_inference(ScnetParams, raw, inference, "scnet")
