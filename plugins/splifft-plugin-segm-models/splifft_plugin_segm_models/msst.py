"""Map a Music-Source-Separation-Training (MSST) `segm_models` yaml onto our params (torch-free).

Read: `audio`, `model`, the `decoder_<type>` section of the chosen decoder type,
`training.instruments` / `training.target_instrument` and `inference`. Unknown keys inside
`audio`, `model` and `inference` are errors (they could change the network or how it runs); the
rest of `training` and other top-level sections (augmentations, losses, …) only matter for
training and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splifft_core.errors import MsstConfigError
from splifft_core.msst_config import (
    INFERENCE_KEYS,
    check_model_type,
    params_and_inference,
    require,
    section,
    stft_audio,
    target_stems,
)
from splifft_plugin_segm_models.params import SegmModelsParams

MODEL_KEYS = frozenset({"act", "decoder_type", "encoder_name", "num_channels", "num_subbands"})
# MSST reads the decoder's keyword arguments from this section for each decoder type.
DECODER_SECTIONS = {
    "unet": "decoder_unet",
    "fpn": "decoder_fpn",
    "unet++": "decoder_unet_plus_plus",
    "manet": "decoder_manet",
    "linknet": "decoder_linknet",
    "pspnet": "decoder_pspnet",
    "pan": "decoder_pan",
    "deeplabv3": "decoder_deeplabv3",
    "deeplabv3plus": "decoder_deeplabv3plus",
}


def import_msst(msst_config: Mapping[str, Any]) -> dict[str, Any]:
    check_model_type(msst_config, "segm_models")
    model = section(msst_config, "model", MODEL_KEYS)
    inference = section(msst_config, "inference", INFERENCE_KEYS)

    decoder_type = require(model, "model", "decoder_type")
    if decoder_type not in DECODER_SECTIONS:
        raise MsstConfigError(
            f"MSST config: unknown model.decoder_type {decoder_type!r}: expected one of "
            f"{sorted(DECODER_SECTIONS)}"
        )
    options = msst_config.get(DECODER_SECTIONS[decoder_type]) or {}
    if not isinstance(options, Mapping):
        raise MsstConfigError(
            f"MSST config: '{DECODER_SECTIONS[decoder_type]}' must be a mapping, "
            f"got {type(options).__name__}"
        )
    raw = {
        **stft_audio(msst_config),
        "output_stem_names": target_stems(msst_config),
        "num_subbands": require(model, "model", "num_subbands"),
        "hidden_channels": require(model, "model", "num_channels"),
        "encoder_name": require(model, "model", "encoder_name"),
        "decoder_type": decoder_type,
        "decoder_options": dict(options),
        "act": require(model, "model", "act"),
    }
    return params_and_inference(SegmModelsParams, raw, inference, "segm_models")
