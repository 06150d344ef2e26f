"""Write `examples/tones_and_clicks.flac`: sustained chords plus a click track (8 s, stereo).

The README's first command separates it with the default model (harmonic = the chords,
percussive = the clicks).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 44100


def tones_and_clicks(seconds: float = 8.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(tones, clicks), each `(samples, 2)` float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tones = np.zeros((len(t), 2))
    for i, freq in enumerate([220.0, 277.18, 329.63, 440.0, 554.37]):
        pan = 0.3 + 0.1 * i
        voice = 0.08 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
        tones[:, 0] += (1 - pan) * voice
        tones[:, 1] += pan * voice
    clicks = np.zeros((len(t), 2))
    burst = int(0.004 * SAMPLE_RATE)
    envelope = np.exp(-np.arange(burst) / (0.0008 * SAMPLE_RATE))
    for start in range(int(0.1 * SAMPLE_RATE), len(t) - burst, int(0.25 * SAMPLE_RATE)):
        clicks[start : start + burst] += 0.5 * envelope[:, None] * rng.standard_normal((burst, 2))
    return tones.astype(np.float32), clicks.astype(np.float32)


def main() -> None:
    tones, clicks = tones_and_clicks()
    out = Path(__file__).with_name("tones_and_clicks.flac")
    sf.write(out, tones + clicks, SAMPLE_RATE, subtype="PCM_16")
    print(out)


if __name__ == "__main__":
    main()
