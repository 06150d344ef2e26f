"""Import Music-Source-Separation-Training (MSST) roformer and conformer configs.

Model types `bs_roformer`, `mel_band_roformer`, `bs_conformer` and `mel_band_conformer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from splifft_core.errors import MsstConfigError, validation_message
from splifft_core.msst_config import inference_settings
from splifft_plugin_roformer.params import (
    BSConformerParams,
    BSRoformerHyperAceParams,
    BSRoformerParams,
    MelConformerParams,
    MelRoformerParams,
)

AUDIO_KEYS_IGNORED = frozenset({"dim_f", "dim_t", "hop_length", "n_fft", "min_mean_abs"})
"""`audio:` keys MSST reads for other architectures or for training only."""
INFERENCE_KEYS_IGNORED = frozenset({"dim_t"})
OUR_KEYS = frozenset({"chunk_size", "output_stem_names", "mask_estimator_refiner_depth"})
"""Our params that are not MSST `model:` options."""


def _section(config: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = config.get(name) or {}
    if not isinstance(value, Mapping):
        raise MsstConfigError(f"MSST config: '{name}' must be a mapping")
    return value


def _stems(config: Mapping[str, Any], num_stems: int) -> list[str]:
    training = _section(config, "training")
    target = training.get("target_instrument")
    instruments = list(training.get("instruments") or [])
    if target:
        if num_stems != 1:
            raise MsstConfigError(
                f"MSST config: target_instrument {target!r} set, but model.num_stems={num_stems}"
            )
        return [str(target)]
    if len(instruments) != num_stems:
        raise MsstConfigError(
            f"MSST config: training.instruments {instruments} does not match "
            f"model.num_stems={num_stems}"
        )
    return [str(i) for i in instruments]


CONFORMER_KEYS = frozenset(
    {
        "time_conformer_depth",
        "freq_conformer_depth",
        "linear_conformer_depth",
        "ff_mult",
        "conv_expansion_factor",
        "conv_kernel_size",
        "conv_dropout",
    }
)
"""Options only the conformers take; a conformer config must name one, so that a roformer config
with every option at its default is not also taken for a conformer when the model type is
inferred from the keys."""


def _import(
    config: Mapping[str, Any], params_model: type[BaseModel], *, conformer: bool = False
) -> dict[str, Any]:
    model = dict(_section(config, "model"))
    audio = _section(config, "audio")
    inference = _section(config, "inference")
    if not model:
        raise MsstConfigError("MSST config: missing the 'model' section")
    if conformer and not CONFORMER_KEYS & set(model):
        raise MsstConfigError(
            "MSST config: not a conformer config: the model section names none of "
            f"{sorted(CONFORMER_KEYS)}"
        )
    known = set(params_model.model_fields) - OUR_KEYS
    unknown = sorted(set(model) - known)
    if unknown:
        raise MsstConfigError(
            f"MSST config: model options {unknown} are not supported by {params_model.__name__}"
        )
    unknown_audio = sorted(
        set(audio) - AUDIO_KEYS_IGNORED - {"chunk_size", "sample_rate", "num_channels"}
    )
    if unknown_audio:
        raise MsstConfigError(f"MSST config: unknown audio options {unknown_audio}")
    if "chunk_size" not in audio:
        raise MsstConfigError("MSST config: missing audio.chunk_size")

    params: dict[str, Any] = {k: list(v) if isinstance(v, tuple) else v for k, v in model.items()}
    params["chunk_size"] = audio["chunk_size"]
    params["output_stem_names"] = _stems(config, int(model.get("num_stems", 1)))
    sample_rate = audio.get("sample_rate", model.get("sample_rate"))
    if sample_rate is not None:
        if "sample_rate" in model and model["sample_rate"] != sample_rate:
            raise MsstConfigError(
                f"MSST config: audio.sample_rate={sample_rate} but "
                f"model.sample_rate={model['sample_rate']}"
            )
        params["sample_rate"] = sample_rate
    channels = audio.get("num_channels")
    if channels is not None and channels != (2 if model.get("stereo", False) else 1):
        raise MsstConfigError(
            f"MSST config: audio.num_channels={channels} but model.stereo={model.get('stereo')}"
        )
    try:
        params_model.model_validate(params)
    except ValidationError as exc:
        raise MsstConfigError(f"MSST config: model.{validation_message(exc)}") from None

    known_inference = {"batch_size", "num_overlap", "chunk_size", "normalize"}
    unknown_inference = sorted(set(inference) - INFERENCE_KEYS_IGNORED - known_inference)
    if unknown_inference:
        raise MsstConfigError(f"MSST config: unknown inference options {unknown_inference}")
    defaults = inference_settings(inference, params.get("chunk_size"))
    return {"params": params, "inference": defaults}


def import_bs_roformer(config: Mapping[str, Any]) -> dict[str, Any]:
    """MSST `--model_type bs_roformer` config → our params and inference defaults."""
    return _import(config, BSRoformerParams)


HYPERACE_MODEL_TYPES: dict[str, int] = {"bs_roformer_hyperace_v1": 1, "bs_roformer_hyperace_v2": 2}
"""`--model-type` names for unwa's HyperACE checkpoints (MSST has none: unwa's code replaces its
`bs_roformer.py`, so the yaml is a plain `bs_roformer` one) → `hyperace_version`."""


def import_bs_roformer_hyperace(
    config: Mapping[str, Any], model_type: str | None = None
) -> dict[str, Any]:
    """unwa's HyperACE yaml (a `bs_roformer` one) with `--model-type bs_roformer_hyperace_v1/v2`
    (or a `model.hyperace_version` key) → our params and inference defaults."""
    model = _section(config, "model")
    version = HYPERACE_MODEL_TYPES.get(model_type or "")
    if version is None and "hyperace_version" not in model:
        raise MsstConfigError(
            "MSST config: a HyperACE yaml reads as a plain bs_roformer one; pass --model-type "
            "bs_roformer_hyperace_v2 (or bs_roformer_hyperace_v1)"
        )
    if version is not None:
        config = {**config, "model": {**model, "hyperace_version": version}}
    return _import(config, BSRoformerHyperAceParams)


def import_mel_band_roformer(config: Mapping[str, Any]) -> dict[str, Any]:
    """MSST `--model_type mel_band_roformer` config → our params and inference defaults."""
    return _import(config, MelRoformerParams)


def import_bs_conformer(config: Mapping[str, Any]) -> dict[str, Any]:
    """MSST `--model_type bs_conformer` config → our params and inference defaults."""
    return _import(config, BSConformerParams, conformer=True)


def import_mel_band_conformer(config: Mapping[str, Any]) -> dict[str, Any]:
    """MSST `--model_type mel_band_conformer` config → our params and inference defaults."""
    return _import(config, MelConformerParams, conformer=True)
