"""Analysis models on CPU: ours against their reference packages, same weights.

    bash benchmarks/make_peers_venv.sh      # once: .venv-peers, with pesto-pitch and basic-pitch
    splifft pull pesto-riou-mir1k_g7 basic_pitch-bittner-icassp2022   # once: the weights
    python benchmarks/analysis_vs_reference.py [--repeats 2] [--calls 3] [--minutes 1 30]
        [--reference-minutes 1 10] [--reference-timeout 300] [--models pesto basic_pitch]

Prints Markdown tables:

1. **Speed** on a `--speed-seconds` (60 s) input, a deterministic harmonic melody with vibrato
   and gaps, mono 16-bit WAV at the model's rate (16 kHz for PESTO, 22050 Hz for Basic Pitch),
   so no engine resamples:
   - whole processes, timed from outside (interpreter start, imports, weights, read, analysis,
     write), peak RSS from `wait4`: ours `splifft run in.wav -m MODEL -o OUT -q`; the
     reference's own file front end (`analysis_peers_runner.py`, mode `file`: PESTO's
     `predict_from_files` writing its CSV, Basic Pitch's `predict_and_save` writing its note
     CSV);
   - the library call alone, in-process, best of `--calls` after one untimed call: ours
     `splifft.load_analyzer(MODEL).analyze(x, rate)` on the samples already read; the
     reference's `pesto.predict(x, 16000, step_size=10., model_name="mir-1k_g7")` on the same
     tensor, and `basic_pitch.inference.predict(path, model_or_model_path=nmp.onnx)`, which
     takes a path (its call reads the file and opens its onnxruntime session).
   Seconds, RTF (seconds ÷ audio seconds), reference ÷ ours, and the threads each used.
2. **Memory**: peak RSS (`wait4`, as `memory_vs_length.py` measures it) of `splifft run` with
   each model on `--minutes` (1 and 30) inputs, the long ones written block by block, never
   held in memory, with the ratio to the first (a streaming engine stays about 1×); beside it
   the reference's whole process on `--reference-minutes` (1 and 10), each killed after
   `--reference-timeout` seconds.

Every process runs with `torch.set_num_threads(--threads)` and `OMP_NUM_THREADS` /
`MKL_NUM_THREADS` set alike (`splifft run` takes its torch threads from `OMP_NUM_THREADS`);
both Basic Pitch engines run the graph on onnxruntime with its default intra-op pool. Rows are
interleaved and repeated (`--repeats` processes each); the fastest counts, the slowest is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.compare_engines import ROOT, machine, run_measured
from benchmarks.memory_vs_length import measure

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "analysis_peers_runner.py"


@dataclass(frozen=True)
class Spec:
    key: str
    """The runner's name for the reference (`job["model"]`)."""
    model: str
    rate: int
    reference: str
    file_call: str
    library_call: str
    count: str
    """What the output counts: `frames` or `notes`."""


SPECS = {
    "pesto": Spec(
        "pesto",
        "pesto-riou-mir1k_g7",
        16000,
        "pesto-pitch 2.0.1",
        "`predict_from_files` → CSV",
        '`pesto.predict(x, 16000, step_size=10., model_name="mir-1k_g7")`',
        "frames",
    ),
    "basic_pitch": Spec(
        "basic_pitch",
        "basic_pitch-bittner-icassp2022",
        22050,
        "basic-pitch 0.4.0 (ONNX)",
        "`predict_and_save` → note CSV",
        "`basic_pitch.inference.predict(path, model_or_model_path=nmp.onnx)`",
        "notes",
    ),
}

MELODY = (60, 64, 67, 72, 69, 65, 62, 59, 55, 57, 62, 71, 76, 74, 67, 64)
"""MIDI pitches, one note per `NOTE_S` period, cycled."""
NOTE_S = 0.6
SOUND_S = 0.45
"""Each note sounds for 0.45 s, then 0.15 s of silence (the gaps)."""
VIBRATO_HZ, VIBRATO_SEMITONES = 5.5, 0.3
HARMONICS = 6


def write_melody(path: Path, seconds: float, rate: int) -> None:
    """The input: a harmonic melody with vibrato and gaps, mono 16-bit, written 10 s at a time
    (the phase carried from block to block, so any length is the same signal's prefix)."""
    total = round(seconds * rate)
    block = rate * 10
    phase = 0.0
    weights = 0.6 ** np.arange(HARMONICS)
    gain = 0.5 / weights.sum()
    attack, release = int(0.01 * rate), int(0.03 * rate)
    period, sound = round(NOTE_S * rate), round(SOUND_S * rate)
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=1, subtype="PCM_16") as f:
        for start in range(0, total, block):
            n = np.arange(start, min(start + block, total))
            note, within = np.divmod(n, period)
            midi = np.asarray(MELODY, dtype=np.float64)[note % len(MELODY)]
            midi = midi + VIBRATO_SEMITONES * np.sin(2 * np.pi * VIBRATO_HZ * within / rate)
            step = 2 * np.pi * 440.0 * 2 ** ((midi - 69) / 12) / rate
            phases = phase + np.cumsum(step)
            phase = float(phases[-1] % (2 * np.pi))
            envelope = np.clip(np.minimum(within / attack, (sound - within) / release), 0, 1)
            k = np.arange(1, HARMONICS + 1)[:, None]
            tone = (weights[:, None] * np.sin(k * phases[None])).sum(axis=0)
            f.write((gain * envelope * tone).astype(np.float32))


@dataclass
class Row:
    label: str
    walls: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    infos: list[dict[str, Any]] = field(default_factory=list)

    def add(self, wall: float, peak: float, info: dict[str, Any] | None = None) -> None:
        self.walls.append(wall)
        self.peaks.append(peak)
        self.infos.append(info or {})

    @property
    def best(self) -> int:
        return int(np.argmin(self.walls))

    @property
    def wall(self) -> float:
        return self.walls[self.best]

    @property
    def info(self) -> dict[str, Any]:
        """The fastest process's own report."""
        return self.infos[self.best]


def log(row: Row) -> None:
    info = row.infos[-1]
    inner = f"  call {info['wall']:6.2f} s" if "wall" in info else ""
    print(
        f"  {row.label:<60} wall {row.walls[-1]:7.2f} s{inner}  peak {row.peaks[-1]:6.0f} MiB",
        file=sys.stderr,
        flush=True,
    )


def threads_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.pop("GLIBC_TUNABLES", None)
    return env


def measure_until(
    cmd: list[str], threads: int, timeout: float
) -> tuple[float, float, dict[str, Any] | None]:
    """(wall s, peak RSS MiB, the child's JSON line or None if killed at `timeout`): like
    `run_measured`, with a deadline."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, env=threads_env(threads), cwd=str(ROOT)
        )
        killed = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                os.kill(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                killed = True
                break
            time.sleep(0.05)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss / 1024  # KiB on Linux
        if killed:
            return wall, peak, None
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd[:2])}\n{err.read().decode()[-3000:]}")
        return wall, peak, json.loads(out.read().decode().strip().splitlines()[-1])


class Bench:
    def __init__(self, opts: argparse.Namespace, workdir: Path, onnx: str) -> None:
        self.opts = opts
        self.workdir = workdir
        self.onnx = onnx
        self.jobs = 0

    def splifft_run(self, spec: Spec, track: Path) -> tuple[float, float]:
        """(wall s, peak RSS MiB) of a fresh `python -m splifft run … -q` on CPU."""
        out = self.workdir / f"out_{spec.key}"
        return measure(["run", str(track), "-m", spec.model, "-o", str(out), "-q"])

    def child(self, command: list[str], job: dict[str, Any]) -> tuple[float, float, Any]:
        """(wall s from outside, peak RSS MiB, the child's JSON line) of one runner process."""
        job = {"threads": self.opts.threads, **job}
        start = time.perf_counter()
        info, peak = run_measured([*command, json.dumps(job)], False, self.opts.threads)
        return time.perf_counter() - start, peak, info

    def ours_call(self, spec: Spec, track: Path) -> tuple[float, float, Any]:
        job = {"model": spec.model, "audio_file": str(track), "calls": self.opts.calls}
        return self.child([sys.executable, str(Path(__file__).resolve()), "--job"], job)

    def reference_job(self, spec: Spec, track: Path, mode: str) -> dict[str, Any]:
        """A fresh output folder each time: basic-pitch refuses to overwrite its CSV."""
        self.jobs += 1
        return {
            "threads": self.opts.threads,
            "model": spec.key,
            "mode": mode,
            "audio_file": str(track),
            "out_dir": str(self.workdir / f"ref_{spec.key}_{self.jobs}"),
            "onnx": self.onnx,
            "calls": self.opts.calls,
        }

    def reference(self, spec: Spec, track: Path, mode: str) -> tuple[float, float, Any]:
        job = self.reference_job(spec, track, mode)
        return self.child([self.opts.peers_python, str(RUNNER)], job)


# -- the child side: ours in one process --------------------------------------------------------


def ours_job(job: dict[str, Any]) -> None:
    """`load_analyzer(model).analyze(x, rate)`: one untimed call, the best of `calls`."""
    import torch

    import splifft
    from splifft_core.analysis import Notes, PitchTrack

    torch.set_num_threads(int(job["threads"]))
    analyzer = splifft.load_analyzer(job["model"], device="cpu")
    array, rate = sf.read(job["audio_file"], dtype="float32", always_2d=True)
    x = np.ascontiguousarray(array.T)
    analyzer.analyze(x, rate)
    best: dict[str, Any] = {}
    for _ in range(int(job["calls"])):
        cpu, wall = time.process_time(), time.perf_counter()
        result = analyzer.analyze(x, rate)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if not best or wall < best["wall"]:
            best = {"wall": wall, "cpu": cpu, "threads": torch.get_num_threads()}
            if isinstance(result, PitchTrack):
                best["frames"] = len(result.time)
            elif isinstance(result, Notes):
                best["notes"] = len(result.events)
    print(json.dumps(best))


# -- the driver ----------------------------------------------------------------------------------


def peers_info(python: str) -> tuple[str, str]:
    """(the peers' package versions, the path of basic-pitch's `nmp.onnx`)."""
    code = (
        "import importlib.metadata as m, importlib.util as u, pathlib\n"
        "print(', '.join(f'{p} {m.version(p)}' for p in ('torch', 'pesto-pitch', 'basic-pitch',"
        " 'onnxruntime', 'librosa', 'numpy')))\n"
        "root = pathlib.Path(u.find_spec('basic_pitch').origin).parent\n"
        "print(root / 'saved_models' / 'icassp_2022' / 'nmp.onnx')\n"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    versions, onnx = out.stdout.strip().splitlines()
    return versions, onnx


@dataclass
class Speed:
    spec: Spec
    seconds: float
    runs: list[Row]
    calls: list[Row]


def speed(bench: Bench, spec: Spec) -> Speed:
    seconds = bench.opts.speed_seconds
    track = bench.workdir / f"speed_{spec.key}.wav"
    write_melody(track, seconds, spec.rate)
    ours_run, ref_run = Row("ours: `splifft run`"), Row(f"{spec.reference}: {spec.file_call}")
    ours_call = Row(f"ours: `load_analyzer(…).analyze(x, {spec.rate})`")
    ref_call = Row(f"{spec.reference}: {spec.library_call}")
    print(f"{spec.model}: speed, {seconds:g} s", file=sys.stderr, flush=True)
    for _ in range(bench.opts.repeats):
        ours_run.add(*bench.splifft_run(spec, track))
        log(ours_run)
        ref_run.add(*bench.reference(spec, track, "file"))
        log(ref_run)
        ours_call.add(*bench.ours_call(spec, track))
        log(ours_call)
        ref_call.add(*bench.reference(spec, track, "call"))
        log(ref_call)
    for row in (ours_call, ref_call):  # in-process rows count the timed call
        row.walls = [info["wall"] for info in row.infos]
    track.unlink()
    return Speed(spec, seconds, [ours_run, ref_run], [ours_call, ref_call])


@dataclass
class Memory:
    spec: Spec
    ours: list[tuple[float, float, float]]
    """(minutes, wall s, peak MiB) of `splifft run`."""
    reference: list[tuple[float, float, float, bool]]
    """(minutes, wall s, peak MiB, finished) of the reference's whole process."""


def memory(bench: Bench, spec: Spec) -> Memory:
    ours: list[tuple[float, float, float]] = []
    reference: list[tuple[float, float, float, bool]] = []
    minutes_all = sorted(set(bench.opts.minutes) | set(bench.opts.reference_minutes))
    for minutes in minutes_all:
        track = bench.workdir / f"memory_{spec.key}_{minutes:g}min.wav"
        write_melody(track, minutes * 60, spec.rate)
        if minutes in bench.opts.minutes:
            wall, peak = bench.splifft_run(spec, track)
            ours.append((minutes, wall, peak))
            print(f"  {minutes:g} min ours: {wall:.1f} s, {peak:.0f} MiB", file=sys.stderr)
        if minutes in bench.opts.reference_minutes:
            job = bench.reference_job(spec, track, "file")
            wall, peak, info = measure_until(
                [bench.opts.peers_python, str(RUNNER), json.dumps(job)],
                bench.opts.threads,
                bench.opts.reference_timeout,
            )
            reference.append((minutes, wall, peak, info is not None))
            print(f"  {minutes:g} min reference: {wall:.1f} s, {peak:.0f} MiB", file=sys.stderr)
        track.unlink()
    return Memory(spec, ours, reference)


# -- tables --------------------------------------------------------------------------------------


def header(
    opts: argparse.Namespace, peers: str, load_start: tuple[float, float, float]
) -> list[str]:
    cpu = next(
        line
        for line in machine(opts.threads, opts.peers_python, "cpu", "float32")
        if line.startswith("- CPU")
    )
    import onnxruntime  # type: ignore[import-untyped]
    import torch

    load = os.getloadavg()
    t = opts.threads
    return [
        cpu,
        f"- ours: torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; peers' venv: "
        f"{peers} (and `benchmarks/make_peers_venv.sh`'s torchaudio stand-in for pesto's import)",
        f"- threads: `torch.set_num_threads({t})`, `OMP_NUM_THREADS={t}`, `MKL_NUM_THREADS={t}` "
        "in every process (`splifft run` takes its torch threads from `OMP_NUM_THREADS`); both "
        "Basic Pitch engines run the ONNX graph on onnxruntime's CPU provider with its default "
        "intra-op pool",
        f"- load average (1 / 5 / 15 min): {load_start[0]:.2f} / {load_start[1]:.2f} / "
        f"{load_start[2]:.2f} at the start, {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the end",
        f"- {opts.repeats} processes per row, interleaved; in-process rows: best of {opts.calls} "
        "calls per process after one untimed call",
    ]


def _spread(row: Row) -> str:
    return f"{row.wall:.2f} ({max(row.walls):.2f})"


def _output(row: Row, spec: Spec) -> str:
    count = row.info.get(spec.count)
    return "" if count is None else f"{count} {spec.count}"


def speed_tables(results: list[Speed]) -> list[str]:
    lines = [
        f"Whole runs, {results[0].seconds:g} s input (fresh process, timed from outside):",
        "",
        "| model | engine | wall s (slowest) | RTF | peak RSS MiB | reference ÷ ours |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for s in results:
        ours = s.runs[0]
        for row in s.runs:
            lines.append(
                f"| `{s.spec.model}` | {row.label} | {_spread(row)} | {row.wall / s.seconds:.3f} "
                f"| {row.peaks[row.best]:.0f} | {row.wall / ours.wall:.2f}× |"
            )
    lines += [
        "",
        "The library call alone (in-process, after one untimed call):",
        "",
        "| model | call | s (slowest) | RTF | CPU s | torch threads | output | reference ÷ ours |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for s in results:
        ours = s.calls[0]
        for row in s.calls:
            info = row.info
            lines.append(
                f"| `{s.spec.model}` | {row.label} | {_spread(row)} | {row.wall / s.seconds:.4f} "
                f"| {info['cpu']:.2f} | {info['threads']} | {_output(row, s.spec)} "
                f"| {row.wall / ours.wall:.2f}× |"
            )
    return lines


def memory_table(results: list[Memory], timeout: float) -> list[str]:
    lines = [
        "Peak memory against input length (fresh processes):",
        "",
        "| model | minutes | engine | wall s | RTF | peak RSS MiB | × the first |",
        "|---|--:|---|--:|--:|--:|--:|",
    ]
    for m in results:
        spec = m.spec
        for minutes, wall, peak in m.ours:
            rtf = wall / (minutes * 60)
            lines.append(
                f"| `{spec.model}` | {minutes:g} | ours: `splifft run` | {wall:.1f} | {rtf:.3f} "
                f"| {peak:.0f} | {peak / m.ours[0][2]:.2f} |"
            )
        for minutes, wall, peak, done in m.reference:
            shown = f"{wall:.1f}" if done else f"> {timeout:g} (killed)"
            ref_rtf = f"{wall / (minutes * 60):.3f}" if done else ""
            lines.append(
                f"| `{spec.model}` | {minutes:g} | {spec.reference}: {spec.file_call} | {shown} "
                f"| {ref_rtf} | {peak:.0f}{'' if done else ' (so far)'} "
                f"| {peak / m.reference[0][2]:.2f} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--peers-python",
        default=str(ROOT / ".venv-peers" / "bin" / "python"),
        help="the peers' venv python, with pesto-pitch and basic-pitch (make_peers_venv.sh)",
    )
    parser.add_argument("--models", nargs="+", choices=sorted(SPECS), default=list(SPECS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="processes per row")
    parser.add_argument("--calls", type=int, default=3, help="timed calls per in-process row")
    parser.add_argument("--speed-seconds", type=float, default=60.0, help="speed input length")
    parser.add_argument("--minutes", type=float, nargs="*", default=[1.0, 30.0])
    parser.add_argument("--reference-minutes", type=float, nargs="*", default=[1.0, 10.0])
    parser.add_argument(
        "--reference-timeout", type=float, default=300.0, help="seconds per reference memory run"
    )
    parser.add_argument("--job", help=argparse.SUPPRESS)  # the child side: ours in one process
    opts = parser.parse_args()
    if opts.job:
        ours_job(json.loads(opts.job))
        return
    if not Path(opts.peers_python).exists():
        parser.error(
            f"{opts.peers_python}: no such python; make the peers' venv first with "
            "`bash benchmarks/make_peers_venv.sh` (or pass --peers-python)"
        )
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # `splifft run` inherits these
        os.environ[name] = str(opts.threads)
    os.environ.pop("GLIBC_TUNABLES", None)
    load_start = os.getloadavg()
    command = "python benchmarks/analysis_vs_reference.py " + " ".join(sys.argv[1:])
    started = time.perf_counter()
    peers, onnx = peers_info(opts.peers_python)
    specs = [SPECS[key] for key in opts.models]
    with tempfile.TemporaryDirectory(prefix="splifft-analysis-") as tmp:
        bench = Bench(opts, Path(tmp), onnx)
        speeds = [speed(bench, spec) for spec in specs]
        memories = [memory(bench, spec) for spec in specs] if opts.minutes else []
    lines = [
        "## Analysis models against their reference packages",
        "",
        *header(opts, peers, load_start),
        "",
        *speed_tables(speeds),
    ]
    if memories:
        lines += ["", *memory_table(memories, opts.reference_timeout)]
    lines += ["", f"`{command.strip()}` ({(time.perf_counter() - started) / 60:.1f} min)"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
