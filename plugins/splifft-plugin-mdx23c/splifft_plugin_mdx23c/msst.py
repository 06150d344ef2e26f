"""Map a Music-Source-Separation-Training (MSST) `mdx23c` yaml onto our params (torch-free).

Read: `audio`, `model`, `training.instruments` / `training.target_instrument` and `inference`.
Unknown keys inside `audio`, `model` and `inference` are errors (they could change the
network or how it runs); the rest of `training` and other top-level sections (augmentations,
losses, …) only matter for training and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splifft_core.msst_config import (
    INFERENCE_KEYS,
    check_model_type,
    params_and_inference,
    require,
    section,
    stft_audio,
    target_stems,
)
from splifft_plugin_mdx23c.params import Mdx23cParams

MODEL_KEYS = frozenset(
    {
        "act",
        "bottleneck_factor",
        "growth",
        "norm",
        "num_blocks_per_scale",
        "num_channels",
        "num_scales",
        "num_subbands",
        "scale",
    }
)
MSST_IDENTITY_NORMS = frozenset({"none", "None", "Identity"})


def import_msst(msst_config: Mapping[str, Any]) -> dict[str, Any]:
    check_model_type(msst_config, "mdx23c")
    model = section(msst_config, "model", MODEL_KEYS)
    inference = section(msst_config, "inference", INFERENCE_KEYS)

    norm = require(model, "model", "norm")
    if norm in MSST_IDENTITY_NORMS:
        norm = "none"
    raw = {
        **stft_audio(msst_config),
        "output_stem_names": target_stems(msst_config),
        "num_subbands": require(model, "model", "num_subbands"),
        "num_scales": require(model, "model", "num_scales"),
        "scale": require(model, "model", "scale"),
        "num_blocks_per_scale": require(model, "model", "num_blocks_per_scale"),
        "hidden_channels": require(model, "model", "num_channels"),
        "growth": require(model, "model", "growth"),
        "bottleneck_factor": require(model, "model", "bottleneck_factor"),
        "norm": norm,
        "act": require(model, "model", "act"),
    }
    return params_and_inference(Mdx23cParams, raw, inference, "mdx23c")
