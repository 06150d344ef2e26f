"""Map a Music-Source-Separation-Training (MSST) `bandit_v2` yaml onto our params (torch-free).

MSST builds `model_type: bandit_v2` as `Bandit(**config.kwargs)` (`models/bandit_v2`); keys it
leaves out take that class's defaults, which differ from the published config's (`rnn_type`
LSTM, 12 modules, `pad_mode` constant). Read: `audio`, `kwargs`, `training.instruments` /
`training.target_instrument` and `inference`. Unknown keys inside `audio`, `kwargs` and
`inference` are errors, as are settings the network does not implement (they raise in the
reference too, or are ignored by it: the `*_precisions`); the rest of `training` and other
top-level sections (`cls`, augmentations, …) only matter for training and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splifft_core.errors import MsstConfigError
from splifft_core.msst_config import (
    INFERENCE_KEYS,
    check_model_type,
    params_and_inference,
    section,
    short,
)
from splifft_plugin_bandit.v2.params import BanditV2Params, musical_bands

AUDIO_KEYS = frozenset({"chunk_size", "num_channels", "sample_rate", "min_mean_abs"})
MODEL_DEFAULTS: dict[str, Any] = {
    "n_bands": 64,
    "n_sqm_modules": 12,
    "emb_dim": 128,
    "rnn_dim": 256,
    "bidirectional": True,
    "rnn_type": "LSTM",
    "mlp_dim": 512,
    "hidden_activation": "Tanh",
    "complex_mask": True,
    "use_freq_weights": True,
    "n_fft": 2048,
    "win_length": 2048,
    "hop_length": 512,
    "center": True,
    "normalized": True,
    "pad_mode": "constant",
}
"""`Bandit.__init__`'s defaults for the keys that become our params."""
FIXED: dict[str, Any] = {
    "in_channels": 1,
    "band_type": "musical",
    "require_no_overlap": False,
    "require_no_gap": True,
    "normalize_channel_independently": False,
    "treat_channel_as_feature": True,
    "window_fn": "hann_window",
    "wkwargs": None,
    "power": None,
    "onesided": True,
    "hidden_activation_kwargs": None,
}
"""Keys with the one value the network implements (the reference's default, or the only value
its mono forward works with: `in_channels` 1)."""
IGNORED = frozenset(
    {"stft_precisions", "bandsplit_precisions", "tf_model_precisions", "mask_estim_precisions"}
)
"""Accepted by the reference and unused by it."""
KWARGS_KEYS = frozenset(MODEL_DEFAULTS) | frozenset(FIXED) | IGNORED | {"stems", "fs"}


def output_stems(msst_config: Mapping[str, Any], kwargs: Mapping[str, Any]) -> list[str]:
    """`kwargs.stems`, which name the mask heads' weights; MSST labels the outputs with
    `training.instruments`, so those must be the same stems (case aside: UVR's copy of the
    published config capitalizes them)."""
    stems = kwargs.get("stems")
    if not stems or not isinstance(stems, list | tuple):
        raise MsstConfigError("MSST config: missing required key kwargs.stems")
    stems = [str(s) for s in stems]
    training = msst_config.get("training") or {}
    if not isinstance(training, Mapping):
        raise MsstConfigError("MSST config: 'training' must be a mapping")
    if training.get("target_instrument"):
        raise MsstConfigError(
            "MSST config: BandIt v2 outputs every stem of kwargs.stems; "
            f"training.target_instrument={short(training['target_instrument'])} is not supported"
        )
    instruments = training.get("instruments")
    if instruments is not None and [str(i).lower() for i in instruments] != [
        s.lower() for s in stems
    ]:
        raise MsstConfigError(
            f"MSST config: training.instruments {short(instruments)} differ from "
            f"kwargs.stems {short(stems)}"
        )
    return stems


def import_msst(msst_config: Mapping[str, Any]) -> dict[str, Any]:
    check_model_type(msst_config, "bandit_v2")
    audio = section(msst_config, "audio", AUDIO_KEYS)
    kwargs = section(msst_config, "kwargs", KWARGS_KEYS)
    inference = section(msst_config, "inference", INFERENCE_KEYS)

    for key, value in FIXED.items():
        if kwargs.get(key, value) != value:
            raise MsstConfigError(
                f"MSST config: kwargs.{key}={short(kwargs[key])} is not supported "
                f"(only {short(value)})"
            )
    raw: dict[str, Any] = {key: kwargs.get(key, default) for key, default in MODEL_DEFAULTS.items()}
    raw["output_stem_names"] = output_stems(msst_config, kwargs)
    # MSST feeds audio at `audio.sample_rate`; the model's `fs` (default 44100, which the
    # published 48 kHz config keeps) only places the musical band edges. They scale with it,
    # so on the bin grid they are the same bands, which is checked.
    fs = kwargs.get("fs") or 44100
    sample_rate = audio.get("sample_rate") or fs
    n_fft, n_bands = raw["n_fft"], raw["n_bands"]
    checkable = isinstance(n_fft, int) and isinstance(n_bands, int) and n_fft > 0 and n_bands > 1
    if checkable and musical_bands(n_fft, fs, n_bands) != musical_bands(
        n_fft, sample_rate, n_bands
    ):
        raise MsstConfigError(
            f"MSST config: kwargs.fs={short(fs)} gives other musical bands than "
            f"audio.sample_rate={short(sample_rate)}"
        )
    raw["sample_rate"] = sample_rate
    if audio.get("num_channels") is not None:
        raw["audio_channels"] = audio["num_channels"]
    if audio.get("chunk_size") is not None:
        raw["chunk_size"] = audio["chunk_size"]
    return params_and_inference(BanditV2Params, raw, inference, "bandit_v2")
