"""PESTO's activations → a `PitchTrack`: `pesto.utils.reduce_activations` and the MIDI → Hz
conversion of `pesto.predict(convert_to_freq=True)`.

`alwa` (argmax-local weighted averaging, CREPE's): the activation-weighted mean of the bin
pitches `bin / bps` over the `2·bps − 1` bins around the argmax (clipped at the edges);
`argmax` the argmax bin's pitch; `mean` the weighted mean over all bins. Frame k is at
`k · frame_hop / sample_rate` s (PESTO's `k · step_size` ms).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel

from splifft_core.analysis import PitchTrack
from splifft_plugin_pesto.params import PestoParams


def reduce_activations(activations: np.ndarray, reduction: str = "alwa") -> np.ndarray:
    """Fractional MIDI pitches `(frames,)` from activations `(frames, 128·bps)` (float32, as
    PESTO computes them)."""
    acts = np.asarray(activations, dtype=np.float32)
    num_bins = acts.shape[-1]
    bps, rest = divmod(num_bins, 128)
    if rest:
        raise ValueError(f"activations need 128·bins_per_semitone bins, got {num_bins}")
    pitches = (np.arange(num_bins, dtype=np.float32) / np.float32(bps)).astype(np.float32)
    if reduction == "argmax":
        pitch: np.ndarray = acts.argmax(axis=-1).astype(np.float32) / np.float32(bps)
        return pitch.astype(np.float32)
    if reduction == "mean":
        mean: np.ndarray = acts @ pitches
        return mean.astype(np.float32)
    if reduction != "alwa":
        raise ValueError(f"unknown reduction {reduction!r}")
    center = acts.argmax(axis=-1)[:, None]
    window = np.arange(1, 2 * bps) - bps
    indices = np.clip(center + window, 0, num_bins - 1)
    cropped = np.take_along_axis(acts, indices, axis=-1)
    weighted = (cropped * pitches[indices]).sum(axis=-1, dtype=np.float32)
    total = cropped.sum(axis=-1, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        alwa: np.ndarray = weighted / total
    return alwa.astype(np.float32)


def decode(activations: Mapping[str, np.ndarray], params: BaseModel) -> PitchTrack:
    """The architecture's decoder: `(frames, bins)` activations and `(frames,)` confidence →
    the pitch track in Hz."""
    assert isinstance(params, PestoParams)
    acts_name, conf_name = params.output_names
    acts = np.asarray(activations[acts_name], dtype=np.float32)
    confidence = np.asarray(activations[conf_name], dtype=np.float32).reshape(-1)
    midi = reduce_activations(acts, params.reduction)
    frequency = (440.0 * 2.0 ** ((midi.astype(np.float64) - 69.0) / 12.0)).astype(np.float32)
    time = np.arange(len(midi), dtype=np.float64) * params.frame_hop / params.sample_rate
    return PitchTrack(time=time, frequency=frequency, confidence=confidence, activations=acts)
