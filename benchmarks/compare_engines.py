"""Side-by-side CPU benchmark: our engine against the engines people use, same weights.

    bash benchmarks/make_peers_venv.sh          # once: the peers' venv, .venv-peers
    python benchmarks/compare_engines.py [--quick] [--msst DIR] [--out docs/benchmarks.md]

Every run is a fresh process (peak RSS and CPU time from `wait4`): ours with this venv's
python (`ours_runner.py`), the peers with the peers' venv (`peers_runner.py`, see
`--peers-python`): splifft 0.0.9's engine, audio-separator's MDXC `demix`, demucs'
`apply_model` and MSST's own `demix` (from an MSST checkout, `--msst`; without one the
HyperACE and Apollo cases are skipped). Each case's random weights are made once by the
reference network and loaded unchanged by every engine; each pair runs with the peer's chunk
size, hop and batch size and the same number of chunks (the tables show the counts). Peers run twice: with glibc's default
malloc and with `GLIBC_TUNABLES` keeping freed memory (`--tunables`). Runs are interleaved
and repeated (`--repeats`); the fastest wall time of each counts. The result is written as
Markdown to `--out`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
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
from benchmarks.cases import RATE, Case, memory_case, speed_cases

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TUNABLES = "glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=268435456"
"""Keep up to 1 GiB of freed heap (no trimming) and serve blocks below 256 MiB from the heap
instead of fresh `mmap`s, so the big per-chunk buffers are reused, not faulted in again."""
PEER_NAMES = {
    "splifft009": "splifft 0.0.9",
    "audiosep": "audio-separator demix",
    "demucs": "demucs apply_model",
    "msst": "MSST demix",
}
MSST_COMMIT = "ccc011a"
"""The MSST commit the HyperACE and Apollo cases were written against."""


@dataclass
class Result:
    label: str
    engine: str
    layout: str
    tuned: bool
    seconds: float
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    forwards: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    chunks: int = 0
    profile: dict[str, float] = field(default_factory=dict)
    """Ours: self CPU seconds of one profiled forward by kernel family (`ours_runner.KERNELS`)."""
    gpu_peaks: list[float] = field(default_factory=list)
    """CUDA runs: `torch.cuda.max_memory_allocated` of each process, MiB."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        return cls(**data)

    def best(self) -> int:
        return int(np.argmin(self.walls))

    @property
    def wall(self) -> float:
        return self.walls[self.best()]

    @property
    def cpu(self) -> float:
        return min(self.cpus)

    @property
    def forward(self) -> float:
        return self.forwards[self.best()]

    @property
    def peak(self) -> float:
        return max(self.peaks)

    @property
    def rtf(self) -> float:
        return self.wall / self.seconds


def run_measured(cmd: list[str], tuned: bool, threads: int) -> tuple[dict[str, Any], float]:
    """(the runner's JSON line, the child's peak RSS in MiB from `wait4`)."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.pop("GLIBC_TUNABLES", None)
    if tuned:
        env["GLIBC_TUNABLES"] = TUNABLES
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=str(ROOT))
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd[:2])}\n{err.read().decode()[-3000:]}")
        line = out.read().decode().strip().splitlines()[-1]
    return json.loads(line), usage.ru_maxrss / 1024  # KiB on Linux


class Bench:
    def __init__(
        self,
        peers_python: str,
        threads: int,
        workdir: Path,
        save: Path,
        calls: int,
        device: str,
        precision: str,
        msst: str | None = None,
    ) -> None:
        self.msst = msst
        self.device = device
        self.precision = precision
        self.peers_python = peers_python
        self.threads = threads
        self.workdir = workdir
        self.save = save
        self.calls = calls
        self.saved: dict[str, Any] = {"speed": {}, "memory": []}

    def dump(self) -> None:
        self.save.write_text(json.dumps(self.saved, indent=1))

    def weights(self, case: Case) -> str:
        path = self.workdir / f"{case.name}.pt"
        if not path.exists():
            job = {
                "engine": "init",
                "case": case.to_json(),
                "weights": str(path),
                "msst": self.msst,
            }
            info, _ = run_measured(
                [self.peers_python, str(HERE / "peers_runner.py"), json.dumps(job)],
                False,
                self.threads,
            )
            print(f"  {case.name}: {info['params'] / 1e6:.1f} M parameters", flush=True)
        return str(path)

    def run(self, result: Result, case: Case, extra: dict[str, Any] | None = None) -> None:
        job: dict[str, Any] = {
            "engine": result.engine,
            "layout": result.layout,
            "case": case.to_json(),
            "weights": self.weights(case),
            "seconds": result.seconds,
            "warmup": case.warmup,
            "calls": self.calls,
            "threads": self.threads,
            "device": self.device,
            "precision": self.precision,
            "msst": self.msst,
            **(extra or {}),
        }
        if result.engine == "ours":
            cmd = [sys.executable, str(HERE / "ours_runner.py"), json.dumps(job)]
        else:
            cmd = [self.peers_python, str(HERE / "peers_runner.py"), json.dumps(job)]
        info, peak = run_measured(cmd, result.tuned, self.threads)
        result.walls.append(info["wall"])
        result.cpus.append(info["cpu"])
        result.forwards.append(info["forward"])
        result.peaks.append(peak)
        result.chunks = info["chunks"]
        result.profile = info.get("profile", result.profile)
        if "gpu_peak_mib" in info:
            result.gpu_peaks.append(info["gpu_peak_mib"])
        print(
            f"  {case.name:<20} {result.label:<34} wall {info['wall']:7.2f} s  "
            f"cpu {info['cpu']:7.2f} s  forward {info['forward']:7.2f} s  "
            f"chunks {info['chunks']:3d}  peak {peak:6.0f} MiB",
            flush=True,
        )


def peers_of(case: Case) -> list[str]:
    if case.family in ("bs_roformer", "mel_roformer"):
        return ["splifft009", "audiosep"]
    if case.family == "mdx23c":
        return ["audiosep"]
    if case.family in ("bs_roformer_hyperace", "apollo"):
        # HyperACE: `peers_runner` runs 0.0.9's engine too (`splifft009`), left out here for
        # time (its heads cost seconds per chunk on 2 cores)
        return ["msst"]
    return ["demucs"]


def needs_msst(case: Case) -> bool:
    """MSST's demix is a peer (and Apollo's reference network is MSST's own)."""
    return "msst" in peers_of(case)


def msst_checkout(path: str | None) -> str | None:
    """`path` when it holds an MSST checkout (its `utils/model_utils.py`), else None."""
    if path and (Path(path) / "utils" / "model_utils.py").is_file():
        return str(Path(path).resolve())
    return None


def msst_line(path: str) -> str:
    """The checkout and, where it is a git work tree, its commit."""
    commit = subprocess.run(
        ["git", "-C", path, "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (
        f"- MSST checkout: `{path}` (commit {commit or 'unknown, not a git work tree'}; "
        f"the cases were written against {MSST_COMMIT})"
    )


def speed(
    bench: Bench, cases: list[Case], repeats: int, tuned_ours: bool
) -> dict[str, list[Result]]:
    plans: dict[str, list[Result]] = {}
    for case in cases:
        rows: list[Result] = []
        for peer in peers_of(case):
            rows.append(Result(f"ours ({peer} chunks)", "ours", peer, False, case.seconds))
            if tuned_ours:
                label = f"ours ({peer} chunks), tuned malloc"
                rows.append(Result(label, "ours", peer, True, case.seconds))
            rows.append(Result(f"{PEER_NAMES[peer]}", peer, peer, False, case.seconds))
            rows.append(Result(f"{PEER_NAMES[peer]}, tuned malloc", peer, peer, True, case.seconds))
        plans[case.name] = rows
    for repeat in range(repeats):
        print(f"repeat {repeat + 1}/{repeats}", flush=True)
        for case in cases:
            for result in plans[case.name]:
                profiled = result.engine == "ours" and not result.tuned and repeat == 0
                bench.run(result, case, {"profile": True} if profiled else None)
                bench.saved["speed"][case.name] = [dataclasses.asdict(r) for r in plans[case.name]]
                bench.dump()
    return plans


def memory(bench: Bench, minutes: list[float]) -> list[tuple[float, Result]]:
    case = memory_case()
    rows: list[tuple[float, Result]] = []
    for length in minutes:
        seconds = length * 60
        track = bench.workdir / f"track_{length:g}min.wav"
        write_track(track, seconds)
        ours = Result("ours, separate_file (streamed)", "ours", "splifft009", False, seconds)
        once = {"calls": 1}
        bench.run(
            ours,
            case,
            {"audio_file": str(track), "out_dir": str(bench.workdir / "out"), **once},
        )
        rows.append((length, ours))
        for peer in ("splifft009", "audiosep"):
            result = Result(PEER_NAMES[peer] + " (in memory)", peer, peer, False, seconds)
            bench.run(result, case, once)
            rows.append((length, result))
        bench.saved["memory"] = [[m, dataclasses.asdict(r)] for m, r in rows]
        bench.dump()
        track.unlink()
    return rows


def write_track(path: Path, seconds: float) -> None:
    """Noise, like the runners' tensors (16-bit stereo), written block by block."""
    rng = np.random.default_rng(1)
    total = int(seconds * RATE)
    with sf.SoundFile(str(path), "w", samplerate=RATE, channels=2, subtype="PCM_16") as f:
        for start in range(0, total, RATE * 10):
            n = min(RATE * 10, total - start)
            f.write(np.clip(0.1 * rng.standard_normal((n, 2)), -1, 1).astype(np.float32))


def machine(
    threads: int, peers_python: str, device: str, precision: str, msst: str | None = None
) -> list[str]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    from splifft_core.kernels import onednn_linear_available

    peers = subprocess.run(
        [
            peers_python,
            "-c",
            "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
            "('torch', 'splifft', 'audio-separator', 'demucs', 'rotary-embedding-torch')))",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = os.getloadavg()
    accelerator = []
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
        cuda = torch.version.cuda
        accelerator = [f"- device: `{device}`, {name} (CUDA {cuda}); precision: {precision}"]
    elif precision != "float32":
        accelerator = [f"- device: `{device}`; precision: {precision} (autocast)"]
    return [
        *accelerator,
        f"- CPU: {model}, {os.cpu_count()} logical cores; Linux {platform.release()}; "
        f"Python {platform.python_version()}",
        f"- ours: torch {torch.__version__}, oneDNN linear layers "
        f"{'on' if onednn_linear_available() else 'off'} (`splifft_core.kernels`); "
        f"peers' venv: {peers}",
        f"- threads: `torch.set_num_threads({threads})`, `OMP_NUM_THREADS={threads}`, "
        f"`MKL_NUM_THREADS={threads}` in every run",
        *([msst_line(msst)] if msst else []),
        f"- tuned malloc: `GLIBC_TUNABLES={TUNABLES}` (trim threshold 1 GiB, mmap threshold "
        "256 MiB)",
        f"- load average when this file was written: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "(1 / 5 / 15 min)",
    ]


def speed_tables(cases: list[Case], plans: dict[str, list[Result]]) -> list[str]:
    gpu = any(r.gpu_peaks for rows in plans.values() for r in rows)
    lines = [
        "| model | engine | chunks | wall s (slowest) | RTF | CPU s | forward s | non-forward | "
        "peak RSS MiB | ours faster (wall) | ours faster (CPU) |"
        + (" peak GPU MiB |" if gpu else ""),
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|" + ("--:|" if gpu else ""),
    ]
    for case in cases:
        rows = plans[case.name]
        ours_by_layout = {r.layout: r for r in rows if r.engine == "ours" and not r.tuned}
        for r in rows:
            overhead = (r.wall - r.forward) / r.forward if r.forward > 0 else float("nan")
            if r.engine == "ours":
                speedup_wall = speedup_cpu = ""
            else:
                ours = ours_by_layout[r.layout]
                speedup_wall = f"{r.wall / ours.wall:.2f}×"
                speedup_cpu = f"{r.cpu / ours.cpu:.2f}×"
            lines.append(
                f"| {case.name} | {r.label} | {r.chunks} | {r.wall:.2f} ({max(r.walls):.2f}) | "
                f"{r.rtf:.3f} | "
                f"{r.cpu:.2f} | {r.forward:.2f} | {overhead:+.1%} | {r.peak:.0f} | "
                f"{speedup_wall} | {speedup_cpu} |"
                + (f" {max(r.gpu_peaks, default=float('nan')):.0f} |" if gpu else "")
            )
    return lines


KERNEL_FAMILIES = ("matmul", "attention", "convolution", "fft")


def kernel_table(cases: list[Case], plans: dict[str, list[Result]]) -> list[str]:
    """Our forward split by kernel family, and the speed-up each pair could reach at most if
    everything but those kernels cost nothing (the peers call the same float32 kernels)."""
    lines = [
        "| model | ours | forward ms / chunk | matmul | attention | convolution | FFT | other | "
        "kernel floor ms / chunk | peer forward ms / chunk | ceiling (peer ÷ floor) |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for case in cases:
        rows = plans[case.name]
        for ours in (r for r in rows if r.engine == "ours" and not r.tuned and r.profile):
            total = sum(ours.profile.values())
            share = {k: v / total for k, v in ours.profile.items()}
            per_chunk = ours.forward / ours.chunks * 1e3
            floor = per_chunk * sum(share[k] for k in KERNEL_FAMILIES)
            for peer in (r for r in rows if r.engine == ours.layout and not r.tuned):
                peer_chunk = peer.forward / peer.chunks * 1e3
                lines.append(
                    f"| {case.name} | {ours.label} | {per_chunk:.0f} | "
                    + " | ".join(f"{share[k]:.0%}" for k in (*KERNEL_FAMILIES, "other"))
                    + f" | {floor:.0f} | {peer_chunk:.0f} ({peer.label}) | "
                    f"{peer_chunk / floor:.2f}× |"
                )
    return lines


def targets(cases: list[Case], plans: dict[str, list[Result]]) -> list[str]:
    lines = ["| target | measured | met |", "|---|---|---|"]
    for case in cases:
        rows = plans[case.name]
        ours_by_layout = {r.layout: r for r in rows if r.engine == "ours" and not r.tuned}
        for r in rows:
            if r.engine == "ours" and r.tuned:
                continue
            if r.engine == "ours":
                overhead = (r.wall - r.forward) / r.forward
                lines.append(
                    f"| {case.name}: loop overhead ≤ 5 % ({r.label}) | {overhead:+.1%} | "
                    f"{'yes' if overhead <= 0.05 else 'no'} |"
                )
                continue
            ours = ours_by_layout[r.layout]
            # issue 8: roformers ≥ 1.5× the peers' default run, HTDemucs at least as fast;
            # every tuned-malloc peer (and MDX23C, which has no bar of its own) just beaten;
            # issue 18: HyperACE and Apollo ≥ 1.5× too
            fast = case.family in ("bs_roformer", "mel_roformer", "bs_roformer_hyperace", "apollo")
            need = 1.5 if fast and not r.tuned else 1.0
            speedup = r.wall / ours.wall
            lines.append(
                f"| {case.name}: ≥ {need:g}× faster than {r.label} | {speedup:.2f}× | "
                f"{'yes' if speedup >= need else 'no'} |"
            )
    return lines


def memory_target(rows: list[tuple[float, Result]]) -> list[str]:
    ours = [(m, r) for m, r in rows if r.engine == "ours"]
    if len(ours) < 2:
        return []
    (first_m, first), (last_m, last) = ours[0], ours[-1]
    ratio = last.peak / first.peak
    return [
        f"| peak RSS at {last_m:g} min ≤ 1.3 × at {first_m:g} min (ours, streamed) | "
        f"{ratio:.2f}× | {'yes' if ratio <= 1.3 else 'no'} |"
    ]


def memory_table(rows: list[tuple[float, Result]]) -> list[str]:
    lines = [
        "| minutes | engine | chunks | wall s | RTF | peak RSS MiB | × the 1-minute peak |",
        "|--:|---|--:|--:|--:|--:|--:|",
    ]
    first: dict[str, float] = {}
    for length, r in rows:
        first.setdefault(r.label, r.peak)
        lines.append(
            f"| {length:g} | {r.label} | {r.chunks} | {r.wall:.1f} | {r.rtf:.3f} | "
            f"{r.peak:.0f} | {r.peak / first[r.label]:.2f} |"
        )
    return lines


def pool(
    saved: list[dict[str, Any]],
) -> tuple[dict[str, list[Result]], list[tuple[float, Result]], float, str]:
    """Saved runs merged: each job's samples from every run (interrupted jobs count if ran)."""
    plans: dict[str, list[Result]] = {}
    for run in saved:
        for name, rows in run["speed"].items():
            known = {r.label: r for r in plans.setdefault(name, [])}
            for data in rows:
                result = Result.from_json(data)
                if result.label in known:
                    target = known[result.label]
                    target.walls += result.walls
                    target.cpus += result.cpus
                    target.forwards += result.forwards
                    target.peaks += result.peaks
                    target.gpu_peaks += result.gpu_peaks
                    target.profile = target.profile or result.profile
                elif result.walls:
                    plans[name].append(result)
    # memory: the first run that measured it completely (peaks do not pool)
    complete = [run["memory"] for run in saved if run.get("elapsed") and run["memory"]]
    chosen = complete[0] if complete else next((r["memory"] for r in saved if r["memory"]), [])
    memory_rows = [(m, Result.from_json(r)) for m, r in chosen]
    elapsed = sum(run.get("elapsed", 0.0) for run in saved)
    command = " ; ".join(run.get("command", "?") for run in saved)
    return plans, memory_rows, elapsed, command


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="shorter inputs, no viperx shape")
    parser.add_argument(
        "--peers-python",
        default=str(ROOT / ".venv-peers" / "bin" / "python"),
        help="the peers' venv python (made by benchmarks/make_peers_venv.sh)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--device", default="cpu", help="torch device of every engine (cpu, cuda, cuda:1, …)"
    )
    parser.add_argument(
        "--precision",
        choices=["float32", "bfloat16", "float16"],
        default="float32",
        help="bfloat16 / float16: every engine runs its model under torch.autocast",
    )
    parser.add_argument("--repeats", type=int, help="processes per job (default 2, quick 1)")
    parser.add_argument("--calls", type=int, default=3, help="timed calls per process")
    parser.add_argument(
        "--tuned-ours",
        action="store_true",
        help="also run ours under GLIBC_TUNABLES (splifft sets an equivalent itself)",
    )
    parser.add_argument(
        "--save",
        type=Path,
        default=Path(tempfile.gettempdir()) / "splifft-compare-results.json",
        help="raw results, rewritten after every run",
    )
    parser.add_argument(
        "--render",
        type=Path,
        nargs="+",
        help="only render the Markdown from saved results; several files pool their samples",
    )
    parser.add_argument("--cases", nargs="*", help="only these case names")
    parser.add_argument("--seconds", type=float, help="override every speed input (smoke tests)")
    parser.add_argument("--minutes", type=float, nargs="*", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--msst",
        default=os.environ.get("MSST_DIR"),
        help="an MSST checkout (Music-Source-Separation-Training, commit "
        f"{MSST_COMMIT}): the HyperACE and Apollo cases run its `demix` (default: $MSST_DIR; "
        "without one they are skipped)",
    )
    opts = parser.parse_args()
    if not opts.render and not Path(opts.peers_python).exists():
        parser.error(
            f"{opts.peers_python}: no such python; make the peers' venv first with "
            "`bash benchmarks/make_peers_venv.sh` (or pass --peers-python)"
        )
    if opts.repeats is None:
        opts.repeats = 1 if opts.quick else 2
    minutes = opts.minutes if opts.minutes is not None else [1, 5] if opts.quick else [1, 5, 10]
    cases = [c for c in speed_cases(opts.quick) if not opts.cases or c.name in opts.cases]
    opts.msst = msst_checkout(opts.msst)
    skipped = [c.name for c in cases if needs_msst(c)] if not opts.msst else []
    if skipped and not opts.render:
        print(
            f"note: skipping {', '.join(skipped)}: no MSST checkout (pass --msst DIR or set "
            "MSST_DIR; `bash benchmarks/make_peers_venv.sh` says how to get one)",
            flush=True,
        )
        cases = [c for c in cases if c.name not in skipped]
    if opts.seconds:
        cases = [dataclasses.replace(c, seconds=opts.seconds) for c in cases]
    command = "python benchmarks/compare_engines.py " + " ".join(sys.argv[1:])
    started = time.perf_counter()
    if opts.render:
        saved = [json.loads(p.read_text()) for p in opts.render]
        plans, memory_rows, elapsed, runs = pool(saved)
        command = f"{runs} ; {command.strip()}"
        # the runs' own device and precision label the tables, not this command's defaults
        opts.device = saved[0].get("device", "cpu")
        opts.precision = saved[0].get("precision", "float32")
        opts.msst = next((run["msst"] for run in saved if run.get("msst")), None)
        cases = [c for c in cases if c.name in plans]
    else:
        with tempfile.TemporaryDirectory(prefix="splifft-compare-") as tmp:
            bench = Bench(
                opts.peers_python,
                opts.threads,
                Path(tmp),
                opts.save,
                opts.calls,
                opts.device,
                opts.precision,
                opts.msst,
            )
            bench.saved["command"] = command.strip()
            bench.saved["msst"] = opts.msst
            bench.saved["device"], bench.saved["precision"] = opts.device, opts.precision
            plans = speed(bench, cases, opts.repeats, opts.tuned_ours)
            memory_rows = memory(bench, minutes) if minutes else []
            elapsed = time.perf_counter() - started
            bench.saved["elapsed"] = elapsed
            bench.dump()
    doc = render(command.strip(), opts, cases, plans, memory_rows, elapsed)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(doc)
    print(f"wrote {opts.out} ({elapsed / 60:.1f} min)")


def render(
    command: str,
    opts: argparse.Namespace,
    cases: list[Case],
    plans: dict[str, list[Result]],
    memory_rows: list[tuple[float, Result]],
    elapsed: float,
) -> str:
    notes_path = HERE / "notes.md"
    notes = notes_path.read_text().strip() if notes_path.exists() else ""
    lines = [
        "# Benchmarks",
        "",
        "<!-- generated by benchmarks/compare_engines.py; edit benchmarks/notes.md instead -->",
        "",
        f"Command: `{command}` (took {elapsed / 60:.1f} min).",
        "",
        "## Machine",
        "",
        *machine(opts.threads, opts.peers_python, opts.device, opts.precision, opts.msst),
        "",
        "## Cases",
        "",
        "Random weights (seed 0) made by the reference network, loaded unchanged by every "
        "engine; input: seeded white noise (σ = 0.1), stereo, 44.1 kHz. Every engine runs one "
        "untimed warm-up chunk first.",
        "",
        "| case | network | input s | chunk | hop | batch |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for case in cases:
        lines.append(
            f"| {case.name} | {case.note} | {case.seconds:g} | {case.chunk_size} | "
            f"{case.hop_size} | {case.batch_size} |"
        )
    lines += [
        "",
        f"## Speed ({opts.device}, {opts.precision})",
        "",
        "Wall and CPU seconds of the separation call alone (model built, weights loaded); "
        "RTF = wall ÷ audio duration; *forward* = time inside the chunk model (STFT, network, "
        "ISTFT), *non-forward* = (wall − forward) ÷ forward, the loop's overhead; peak RSS of "
        "the whole process (weights included). Each row is the fastest of all its calls "
        f"(each process times {opts.calls} calls after the warm-up; the command says how many "
        "processes ran).",
        "",
        *speed_tables(cases, plans),
        "",
        "## Targets",
        "",
        *targets(cases, plans),
        *memory_target(memory_rows),
        "",
    ]
    if any(r.profile for rows in plans.values() for r in rows):
        lines += [
            "## Where our forward time goes",
            "",
            "`torch.profiler` over one forward of our chunk model after the timed calls (self "
            "CPU time by operator family, shares of the profiled total). *Kernel floor* = the "
            "measured forward per chunk × the share of matmul, attention, convolution and FFT "
            "kernels: what a forward would cost if everything else (element-wise work, copies, "
            "norms, indexing) were free; *ceiling* = the peer's forward per chunk ÷ our floor, "
            "the most our engine could gain over that peer by making the rest free. The "
            "attention (`scaled_dot_product_attention`), convolution and FFT kernels are the "
            "same in every engine; our matmuls are oneDNN's, the peers' MKL's "
            "(`python benchmarks/linear_kernels.py` compares the two).",
            "",
            *kernel_table(cases, plans),
            "",
        ]
    if memory_rows:
        case = memory_case()
        lines += [
            "## Peak memory against track length",
            "",
            f"{case.note}. Ours streams the file (`Separator.separate_file`, WAV in and out); "
            "the peers separate a tensor already in memory, as their APIs take it.",
            "",
            *memory_table(memory_rows),
            "",
        ]
    if notes:
        lines += [notes, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
