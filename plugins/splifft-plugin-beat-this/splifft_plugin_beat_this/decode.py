"""Beat This!'s minimal postprocessing (`beat_this.model.postprocessor.Postprocessor("minimal")`).

Per activation: a frame is a peak when it equals the maximum of the 7 frames around it (±70 ms,
`max_pool1d(7, 1, 3)`) and its logit is above 0 (probability above 0.5); runs of peaks at most
one frame apart become their mean frame; frames become seconds (`frame / fps`). Each downbeat
then moves to the nearest beat (the first on a tie) and duplicates are removed. The reference's
madmom DBN postprocessing is not ported.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from splifft_core.analysis import Beats
from splifft_plugin_beat_this.params import BeatThisParams


def peak_frames(logits: np.ndarray) -> np.ndarray:
    """Frames that are the maximum within ±3 frames and have a logit above 0."""
    x = np.asarray(logits, dtype=np.float32)
    if not len(x):
        return np.zeros(0, dtype=np.int64)
    padded = np.pad(x, 3, constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 7)
    pooled = windows.max(axis=1)
    return np.flatnonzero((x == pooled) & (x > 0))


def deduplicate_peaks(peaks: np.ndarray, width: int = 1) -> np.ndarray:
    """Groups of peaks each at most `width` frames from the previous one → their running mean."""
    result: list[float] = []
    frames = [int(p) for p in peaks]
    if not frames:
        return np.array(result, dtype=np.float64)
    p: float = frames[0]
    count = 1
    for p2 in frames[1:]:
        if p2 - p <= width:
            count += 1
            p += (p2 - p) / count
        else:
            result.append(p)
            p, count = p2, 1
    result.append(p)
    return np.array(result, dtype=np.float64)


def minimal_postprocess(
    beat_logits: np.ndarray, downbeat_logits: np.ndarray, fps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Beat and downbeat times in seconds from frame logits."""
    beat_time = deduplicate_peaks(peak_frames(beat_logits)) / fps
    downbeat_time = deduplicate_peaks(peak_frames(downbeat_logits)) / fps
    if len(beat_time):
        for i, d_time in enumerate(downbeat_time):
            downbeat_time[i] = beat_time[np.argmin(np.abs(beat_time - d_time))]
    return beat_time, np.unique(downbeat_time)


def decode(activations: Mapping[str, np.ndarray], params: BeatThisParams) -> Beats:
    """`Beats` from the stitched `beat` and `downbeat` logits `(frames,)`."""
    beat = np.asarray(activations["beat"], dtype=np.float32).reshape(-1)
    downbeat = np.asarray(activations["downbeat"], dtype=np.float32).reshape(-1)
    beats, downbeats = minimal_postprocess(beat, downbeat, params.fps)
    return Beats(beats=beats, downbeats=downbeats, activations={"beat": beat, "downbeat": downbeat})
