"""Peak memory of `splifft run` against track length, through one model.

    python benchmarks/memory_vs_length.py [--model ID] [--minutes 1 10] [--device cpu]

Each run is a fresh process (`python -m splifft run …`); its peak RSS comes from `wait4`. The
streaming engine should keep the 10-minute peak within 1.3 × the 1-minute peak.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 44100


def write_track(path: Path, minutes: float, seed: int = 0) -> None:
    """Chords plus noise, written block by block (16-bit stereo)."""
    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * RATE)
    block = RATE * 10
    with sf.SoundFile(str(path), "w", samplerate=RATE, channels=2, subtype="PCM_16") as f:
        for start in range(0, total, block):
            t = np.arange(start, min(start + block, total)) / RATE
            tones = 0.1 * np.stack(
                [np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1
            )
            f.write((tones + 0.02 * rng.standard_normal(tones.shape)).astype(np.float32))


def measure(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "splifft", *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"splifft run failed: {' '.join(args)}")
    return wall, usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="hpss-fitzgerald-median")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--device", default="cpu")
    opts = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="splifft-bench-") as tmp:
        for minutes in opts.minutes:
            track = Path(tmp) / f"track_{minutes:g}min.wav"
            write_track(track, minutes)
            wall, peak = measure(
                [
                    "run",
                    str(track),
                    "-m",
                    opts.model,
                    "-o",
                    str(Path(tmp) / "out"),
                    "--device",
                    opts.device,
                    "-q",
                ]
            )
            rows.append((minutes, wall, wall / (minutes * 60), peak))
            track.unlink()
    base = rows[0][3]
    print(
        f"model: {opts.model}  device: {opts.device}  machine: {platform.machine()}, {os.cpu_count()} cores"
    )
    print(f"{'minutes':>8} {'wall s':>8} {'RTF':>6} {'peak RSS MiB':>13} {'× first':>8}")
    for minutes, wall, rtf, peak in rows:
        print(f"{minutes:>8g} {wall:>8.1f} {rtf:>6.3f} {peak:>13.0f} {peak / base:>8.2f}")


if __name__ == "__main__":
    main()
