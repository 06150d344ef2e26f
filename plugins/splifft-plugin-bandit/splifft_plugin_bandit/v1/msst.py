"""Map an MSST `bandit` yaml onto our params (torch-free).

MSST builds `model_type: bandit` as `MultiMaskMultiSourceBandSplitRNNSimple(**config.model)`.
Read: `audio`, `model` and `inference`; unknown keys there are errors, and so are options the
network would not run with (MSST's `in_channel` other than 1, `power`, `wkwargs`,
`normalize_channel_independently`, `mult_add_mask`, `onesided: false`, `n_fft` other than 2048). Keys that only check
bands or steer training (`require_no_overlap`, `require_no_gap`, `treat_channel_as_feature` with
one channel per item, `normalize_input`, `freeze_encoder`, `cond_dim`, and the STFT settings MSST
ignores) are accepted and dropped. The rest
of the file (training, augmentations, …) is ignored.
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
    short,
)
from splifft_plugin_bandit.v1.params import BanditParams

AUDIO_KEYS = frozenset({"chunk_size", "num_channels", "sample_rate", "min_mean_abs"})
KEPT_KEYS = {
    "fs": "sample_rate",
    "n_bands": "n_bands",
    "n_sqm_modules": "n_sqm_modules",
    "emb_dim": "emb_dim",
    "rnn_dim": "rnn_dim",
    "bidirectional": "bidirectional",
    "rnn_type": "rnn_type",
    "mlp_dim": "mlp_dim",
    "hidden_activation": "hidden_activation",
    "hidden_activation_kwargs": "hidden_activation_kwargs",
    "complex_mask": "complex_mask",
    "use_freq_weights": "use_freq_weights",
}
DROPPED_KEYS = frozenset(
    {
        "require_no_overlap",
        "require_no_gap",
        "treat_channel_as_feature",
        "normalize_input",
        "freeze_encoder",
        # Never reaches MSST's mask decoders (`instantiate_mask_estim` does not pass it on).
        "cond_dim",
        # MSST's wrapper builds its STFT with the defaults (its `BandSplitWrapperBase` calls
        # `super().__init__()` without them): 2048-point FFT, hop 512, periodic Hann,
        # window-normalized, centred with zero padding; these keys change nothing.
        "win_length",
        "hop_length",
        "window_fn",
        "center",
        "normalized",
        "pad_mode",
    }
)
FIXED_KEYS: dict[str, Any] = {
    "in_channel": 1,
    "power": None,
    "wkwargs": None,
    "normalize_channel_independently": False,
    "mult_add_mask": False,
    "onesided": True,
    "n_fft": 2048,
}
"""Keys whose other values MSST's BandIt rejects, or mishandles (`in_channel`: every channel
is reshaped into its own batch item; `n_fft`: the bands are cut from an `n_fft` spectrum, the
STFT is always 2048-point)."""
VOX7_NAMES = frozenset({"dnr:speech", "dnr:vox7", "musdb:vocals", "musdb:vox7"})
MODEL_KEYS = frozenset({"stems", "band_specs", *KEPT_KEYS, *DROPPED_KEYS, *FIXED_KEYS})


def band_specs(name: object) -> str:
    """MSST's `get_band_specs` matching: the vocal names, then substrings in its order."""
    if not isinstance(name, str):
        raise MsstConfigError(f"MSST config: model.band_specs must be a name, got {short(name)}")
    if name in VOX7_NAMES:
        return "vox7"
    for unsupported in ("tribark", "bark", "erb"):
        if unsupported in name:
            raise MsstConfigError(
                f"MSST config: model.band_specs={short(name)} ({unsupported} bands) is not "
                "supported; musical, mel and vox7 bands are"
            )
    for supported in ("musical", "mel"):
        if supported in name:
            return supported
    raise MsstConfigError(f"MSST config: unknown model.band_specs {short(name)}")


def import_msst(msst_config: Mapping[str, Any]) -> dict[str, Any]:
    check_model_type(msst_config, "bandit")
    audio = section(msst_config, "audio", AUDIO_KEYS)
    model = section(msst_config, "model", MODEL_KEYS)
    inference = section(msst_config, "inference", INFERENCE_KEYS)

    for key, value in FIXED_KEYS.items():
        if key in model and model[key] != value:
            raise MsstConfigError(
                f"MSST config: model.{key}={short(model[key])} is not supported "
                f"(only {short(value)})"
            )
    raw: dict[str, Any] = {
        ours: model[theirs] for theirs, ours in KEPT_KEYS.items() if theirs in model
    }
    raw["output_stem_names"] = [str(s) for s in require(model, "model", "stems") if s != "mne:+"]
    raw["band_specs"] = band_specs(require(model, "model", "band_specs"))
    if audio.get("sample_rate") is not None and "sample_rate" in raw:
        if audio["sample_rate"] != raw["sample_rate"]:
            raise MsstConfigError(
                f"MSST config: audio.sample_rate={short(audio['sample_rate'])} differs from "
                f"model.fs={short(raw['sample_rate'])}"
            )
    elif audio.get("sample_rate") is not None:
        raw["sample_rate"] = audio["sample_rate"]
    if audio.get("num_channels") is not None:
        raw["audio_channels"] = audio["num_channels"]
    if audio.get("chunk_size") is not None:
        raw["chunk_size"] = audio["chunk_size"]
    return params_and_inference(BanditParams, raw, inference, "bandit")
