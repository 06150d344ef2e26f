"""Basic Pitch's note creation (`basic_pitch/note_creation.py`, `model_output_to_notes`), in numpy.

From the stitched posteriorgrams `note` `(frames, 88)`, `onset` `(frames, 88)` and `contour`
`(frames, 264)`:

1. **Frequency limits** (`constrain_frequency`): note and onset activations outside
   `[minimum_frequency, maximum_frequency]` are zeroed.
2. **Inferred onsets** (`get_infered_onsets`): the smaller of the note posteriorgram's one- and
   two-frame rises (none in the first two frames), rescaled to the onsets' maximum; the onset
   strength is the larger of it and the onset posteriorgram.
3. **Onset peaks**: strict local maxima in time (never the first or last frame) of at least
   `onset_threshold`, visited from the last to the first (frame, then bin, descending).
4. **Notes from onsets**: a note runs while the remaining note energy at its pitch stays at or
   above `frame_threshold`, ending `energy_tolerance` frames below it (or one frame before the
   end); notes of at most `minimum_note_frames` frames are dropped, kept ones clear the energy of
   their pitch and both neighbours. Amplitude: the mean note activation over the note.
5. **Melodia trick**: while some remaining energy exceeds `frame_threshold`, the largest grows a
   note both ways in time (clearing its pitch and neighbours as it goes) until
   `energy_tolerance` frames fall below the threshold.
6. **Pitch bends** (`get_pitch_bends`): per frame of a note, the argmax of the contour within
   `pitch_bend_tolerance` bins of its pitch, weighted by a Gaussian (σ = 5 bins), in 1/3
   semitones.
7. **Times** (`model_frames_to_time`): frame `k` is at `k · hop / rate − w(k) · offset` with
   `w(k) = floor(k / 172)` and `offset = hop / rate · (172 − chunk_size / hop) + 0.0018` s.

The events keep Basic Pitch's order (onset notes latest first, then melodia notes) and every
note's bends: `predict()`'s `multiple_pitch_bends=False` drops overlapping notes' bends only in
the MIDI file it writes, not in the events (nor in `save_note_events`' CSV).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from splifft_core.analysis import NoteEvent, Notes
from splifft_plugin_basic_pitch.params import BasicPitchParams

if TYPE_CHECKING:
    from pydantic import BaseModel

GAUSSIAN_STD = 5.0
"""The pitch-bend weighting's standard deviation in contour bins."""

IntNote = tuple[int, int, int, np.floating]
"""(first frame, end frame (exclusive), MIDI pitch, amplitude)."""


def _hz_to_midi(frequency: float) -> float:
    return float(12 * (np.log2(np.asarray(frequency)) - np.log2(440.0)) + 69)


def constrain_frequency(
    onsets: np.ndarray, frames: np.ndarray, params: BasicPitchParams
) -> tuple[np.ndarray, np.ndarray]:
    if params.maximum_frequency is None and params.minimum_frequency is None:
        return onsets, frames  # nothing to zero: no copies (a 30-minute track's are 100 MB)
    onsets, frames = onsets.copy(), frames.copy()
    if params.maximum_frequency is not None:
        top = int(np.round(_hz_to_midi(params.maximum_frequency) - params.midi_offset))
        onsets[:, top:] = 0
        frames[:, top:] = 0
    if params.minimum_frequency is not None:
        bottom = int(np.round(_hz_to_midi(params.minimum_frequency) - params.midi_offset))
        onsets[:, :bottom] = 0
        frames[:, :bottom] = 0
    return onsets, frames


def inferred_onsets(onsets: np.ndarray, frames: np.ndarray, n_diff: int = 2) -> np.ndarray:
    """The onset strength: onsets or sharp rises of the note posteriorgram, whichever is larger
    (float64, as Basic Pitch's arithmetic gives)."""
    # Basic Pitch's `np.min([...], axis=0)` and `np.max([...], axis=0)` as pairwise minimum and
    # maximum, in place: the same float64 values with two work arrays, not six.
    padded = np.concatenate([np.zeros((n_diff, frames.shape[1])), frames])
    rises: np.ndarray = padded[n_diff:] - padded[n_diff - 1 : len(padded) - 1]
    for n in range(2, n_diff + 1):
        np.minimum(rises, padded[n_diff:] - padded[n_diff - n : len(padded) - n], out=rises)
    del padded
    rises[rises < 0] = 0
    rises[:n_diff, :] = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        top = np.max(rises)
        rises *= np.max(onsets)
        rises /= top
    np.maximum(onsets, rises, out=rises)
    return rises


def onset_peaks(strength: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(frames, bins) of the strict temporal maxima at or above `threshold`, last first."""
    inner = (strength[1:-1] > strength[:-2]) & (strength[1:-1] > strength[2:])
    if threshold <= 0:  # Basic Pitch's zeros between the maxima pass such a threshold too
        peaks = np.zeros(strength.shape)
        peaks[1:-1][inner] = strength[1:-1][inner]
        times, bins = np.where(peaks >= threshold)
    else:
        inner &= strength[1:-1] >= threshold
        times, bins = np.where(inner)
        times = times + 1
    return times[::-1], bins[::-1]


def _clear(energy: np.ndarray, rows: slice | int, pitch: int) -> None:
    energy[rows, pitch] = 0
    if pitch < energy.shape[1] - 1:
        energy[rows, pitch + 1] = 0
    if pitch > 0:
        energy[rows, pitch - 1] = 0


def note_frames(frames: np.ndarray, onsets: np.ndarray, params: BasicPitchParams) -> list[IntNote]:
    """Basic Pitch's `output_to_notes_polyphonic`: notes in frames, in its order."""
    n_frames = frames.shape[0]
    onsets, frames = constrain_frequency(onsets, frames, params)
    if params.infer_onsets:
        onsets = inferred_onsets(onsets, frames)
    threshold, tolerance = params.frame_threshold, params.energy_tolerance
    shortest = params.minimum_note_frames
    energy = frames.astype(np.float64)
    notes: list[IntNote] = []
    for start, pitch in zip(*onset_peaks(onsets, params.onset_threshold), strict=True):
        start, pitch = int(start), int(pitch)
        if start >= n_frames - 1:
            continue
        i, below = start + 1, 0
        while i < n_frames - 1 and below < tolerance:
            below = below + 1 if energy[i, pitch] < threshold else 0
            i += 1
        i -= below
        if i - start <= shortest:
            continue
        _clear(energy, slice(start, i), pitch)
        notes.append((start, i, pitch + params.midi_offset, np.mean(frames[start:i, pitch])))
    if not params.melodia_trick:
        return notes
    while np.max(energy) > threshold:
        middle, pitch = (int(v) for v in np.unravel_index(np.argmax(energy), energy.shape))
        energy[middle, pitch] = 0
        i, below = middle + 1, 0
        while i < n_frames - 1 and below < tolerance:
            below = below + 1 if energy[i, pitch] < threshold else 0
            _clear(energy, i, pitch)
            i += 1
        end = i - 1 - below
        i, below = middle - 1, 0
        while i > 0 and below < tolerance:
            below = below + 1 if energy[i, pitch] < threshold else 0
            _clear(energy, i, pitch)
            i -= 1
        first = i + 1 + below
        if end - first <= shortest:
            continue
        notes.append((first, end, pitch + params.midi_offset, np.mean(frames[first:end, pitch])))
    return notes


def _contour_bin(pitch: int, params: BasicPitchParams) -> float:
    """`midi_pitch_to_contour_bin`: the contour bin of MIDI `pitch` (librosa's `midi_to_hz`)."""
    hz = 440.0 * (2.0 ** ((np.asarray(pitch, dtype=np.int64) - 69.0) / 12.0))
    return float(12.0 * params.contour_bins_per_semitone * np.log2(hz / params.base_frequency))


def pitch_bends(
    contour: np.ndarray, notes: list[IntNote], params: BasicPitchParams
) -> list[tuple[int, ...]]:
    """`get_pitch_bends`: each note's per-frame bend in 1/3 semitones."""
    tolerance = params.pitch_bend_tolerance
    length = 2 * tolerance + 1
    n = np.arange(0, length) - (length - 1.0) / 2.0
    gaussian = np.exp(-(n**2) / (2 * GAUSSIAN_STD * GAUSSIAN_STD))  # scipy's windows.gaussian
    bins = contour.shape[1]
    bends: list[tuple[int, ...]] = []
    for start, end, pitch, _ in notes:
        centre = int(np.round(_contour_bin(pitch, params)))
        low = max(centre - tolerance, 0)
        high = min(bins, centre + tolerance + 1)
        weights = gaussian[
            max(0, tolerance - centre) : length - max(0, centre - (bins - tolerance - 1))
        ]
        shift = tolerance - max(0, tolerance - centre)
        picked = np.argmax(contour[start:end, low:high] * weights, axis=1) - shift
        bends.append(tuple(int(b) for b in picked))
    return bends


def frame_times(n_frames: int, params: BasicPitchParams) -> np.ndarray:
    """`model_frames_to_time`: seconds of each frame, with Basic Pitch's per-window correction."""
    hop, rate, per_window = params.frame_hop, params.sample_rate, params.chunk_frames
    k = np.arange(n_frames)
    plain = (k * hop).astype(int) / float(rate)
    windows = np.floor(k / per_window)
    offset = (hop / rate) * (per_window - (params.chunk_size / hop)) + params.time_correction_s
    times: np.ndarray = plain - offset * windows
    return times


def decode(activations: Mapping[str, np.ndarray], params: BaseModel) -> Notes:
    """Note events from Basic Pitch's stitched posteriorgrams (`model_output_to_notes`)."""
    if not isinstance(params, BasicPitchParams):
        raise TypeError(f"expected BasicPitchParams, got {type(params).__name__}")
    note = np.asarray(activations["note"], dtype=np.float32)
    onset = np.asarray(activations["onset"], dtype=np.float32)
    contour = np.asarray(activations["contour"], dtype=np.float32)
    found = note_frames(note, onset, params)
    bends = pitch_bends(contour, found, params) if params.include_pitch_bends else [()] * len(found)
    times = frame_times(contour.shape[0], params)
    events = tuple(
        NoteEvent(
            start=float(times[start]),
            end=float(times[end]),
            pitch=int(pitch),
            amplitude=float(amplitude),
            pitch_bends=bend,
        )
        for (start, end, pitch, amplitude), bend in zip(found, bends, strict=True)
    )
    return Notes(events=events, activations={"note": note, "onset": onset, "contour": contour})
