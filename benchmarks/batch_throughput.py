"""Tracks per hour of `splifft batch` against a sequential loop, with the model's own forward
time as the limit.

    python benchmarks/batch_throughput.py [--model ID] [--tracks 50] [--seconds 10]
                                          [--loop-tracks 10] [--device cpu]

The tracks are the example song (`examples/song/mixture.flac`), each circularly shifted and at
its own gain, as 16-bit FLAC. Measured, all with the same loaded model unless said:

Limit and pipeline are measured `--repeats` times, alternately, and the best of each is kept
(the machine may be shared).

- **limit**: the model's forward passes alone (`Separator.stream` over each track decoded
  beforehand, nothing read or written while timed);
- **pipeline**: `splifft.batch.run_pipeline`, the overlapped reader → model → writer stages of
  `splifft batch` (model loaded beforehand, as for the limit);
- **sequential**: `Separator.separate_file` on one track after the other, which is what
  `splifft run folder/` does;
- **shell loop**: `splifft run TRACK` once per track in fresh processes (the first
  `--loop-tracks` tracks), a start and a model load each, what users script today;
- **`splifft batch`**: the whole command in a fresh process, start and model load included.

The outputs of the pipeline are compared byte for byte with the sequential ones (all tracks)
and with the shell loop's (its tracks).
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_tracks(folder: Path, count: int, seconds: float) -> list[Path]:
    song, rate = sf.read(REPO / "examples" / "song" / "mixture.flac", dtype="float32")
    frames = int(seconds * rate)
    tracks = []
    for i in range(count):
        shifted = np.roll(song, -int(i * 0.231 * rate), axis=0)
        reps = int(np.ceil(frames / len(shifted)))
        audio = np.tile(shifted, (reps, 1))[:frames] * (0.6 + 0.4 * ((i * 7) % 10) / 10)
        path = folder / f"track {i:03d}.flac"
        sf.write(path, audio, rate, subtype="PCM_16")
        tracks.append(path)
    return tracks


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*.flac"))
        if ".splifft-batch" not in p.parts
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="spleeter-hennequin-2stems")
    parser.add_argument("--tracks", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--loop-tracks", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--repeats", type=int, default=2, help="limit and pipeline measured alternately, best kept"
    )
    parser.add_argument("--skip-command", action="store_true", help="no whole-command run")
    opts = parser.parse_args()

    import torch

    import splifft_core.api as api
    from splifft.batch import BatchInput, BatchOptions, run_pipeline
    from splifft.batch.records import Output, fingerprint
    from splifft_core.separator import hold, plan_track

    with tempfile.TemporaryDirectory(prefix="splifft-batch-bench-") as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        tracks = make_tracks(work / "in", opts.tracks, opts.seconds)
        separator = api.load(opts.model, device=opts.device)
        options = BatchOptions(model=opts.model, device=opts.device)
        separator.separate_file(tracks[0], work / "warm-up", notify=lambda line: None)

        held_tracks = []
        for track in tracks:
            plan = plan_track(separator, track, work / "unused")
            with plan.open_source(separator) as source:
                held = hold(source)
            held_tracks.append((held, plan.requested))

        def forward_pass() -> float:
            start = time.perf_counter()
            for held, requested in held_tracks:
                for _ in separator.stream(held, stems=requested):
                    pass
            return time.perf_counter() - start

        items = [BatchInput(str(t.resolve())) for t in tracks]

        def pipeline_pass(index: int) -> float:
            out = Output(str(work / f"pipeline{index}"))
            start = time.perf_counter()
            records = run_pipeline(
                separator, items, out, options, fingerprint({}), work, lambda record: None
            )
            seconds = time.perf_counter() - start
            assert all(r.state == "done" for r in records), [r.error for r in records]
            return seconds

        forwards, pipelines = [], []
        for index in range(opts.repeats):
            forwards.append(forward_pass())
            pipelines.append(pipeline_pass(index))
        forward, pipeline = min(forwards), min(pipelines)

        start = time.perf_counter()
        for track in tracks:
            separator.separate_file(track, work / "sequential", notify=lambda line: None)
        sequential = time.perf_counter() - start

        env = {**os.environ, "PYTHONPATH": str(REPO)}
        loop_tracks = tracks[: opts.loop_tracks]
        start = time.perf_counter()
        for track in loop_tracks:
            subprocess.run(
                [sys.executable, "-m", "splifft", "run", str(track), "-m", opts.model,
                 "-o", str(work / "loop"), "-q", "--device", opts.device],
                env=env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        loop = time.perf_counter() - start

        command = float("nan")
        if not opts.skip_command:
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "splifft", "batch", str(work / "in"), "-m", opts.model,
                 "-o", str(work / "command"), "-q", "--device", opts.device],
                env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            command = time.perf_counter() - start

        piped = files_of(work / "pipeline0")
        same_sequential = piped == files_of(work / "sequential")
        looped = files_of(work / "loop")
        same_loop = bool(looped) and all(piped[k] == v for k, v in looped.items())
        same_command = opts.skip_command or files_of(work / "command") == piped

    def per_hour(count: int, seconds: float) -> float:
        return 3600 * count / seconds

    limit = per_hour(opts.tracks, forward)
    rows = [
        ("limit: the model's forward passes", forward, opts.tracks, limit),
        ("pipeline (`splifft batch`'s stages)", pipeline, opts.tracks, per_hour(opts.tracks, pipeline)),
        ("sequential `separate_file` (`splifft run folder/`)", sequential, opts.tracks,
         per_hour(opts.tracks, sequential)),
        ("shell loop of `splifft run`", loop, len(loop_tracks), per_hour(len(loop_tracks), loop)),
        ("`splifft batch` command (start, load)", command, opts.tracks,
         per_hour(opts.tracks, command)),
    ]  # fmt: skip
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} logical cores; Python "
        f"{platform.python_version()}; torch {torch.__version__} ({torch.get_num_threads()} "
        f"threads); model {opts.model} on {opts.device}; {opts.tracks} tracks of "
        f"{opts.seconds:g} s\n"
    )
    print("| run | tracks | wall s | tracks/h | of the limit |")
    print("|---|--:|--:|--:|--:|")
    for name, seconds, count, rate in rows:
        print(f"| {name} | {count} | {seconds:.1f} | {rate:.0f} | {rate / limit:.0%} |")
    print(
        f"\npipeline outputs byte-identical to sequential: {same_sequential}; to the shell "
        f"loop's {len(loop_tracks)} tracks: {same_loop}; to the `splifft batch` command's: "
        f"{same_command}"
    )
    ratio = per_hour(opts.tracks, pipeline) / limit
    print(f"pipeline ≥ 90 % of the limit: {'holds' if ratio >= 0.9 else 'fails'} ({ratio:.1%})")


if __name__ == "__main__":
    main()
