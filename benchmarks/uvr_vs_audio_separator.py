"""UVR's MDX-Net and VR models: our engine against audio-separator 0.47.1 on the CPU.

    python benchmarks/uvr_vs_audio_separator.py [--seconds 45] [--repeats 2] [--memory-minutes 1 4]

Each case's network is made once with seeded random weights at the size of the public models
(`uvr_peers_runner.py init`: an MDX-Net ONNX graph exported from UVR's own `ConvTDFNet`, a VR
`.pth` from UVR's `nets` / `nets_new`), and both engines load that same file. The input is one
seeded stereo WAV (tones, a sweep, noise) at 44.1 kHz. Every run is its own process; a job's
best call counts; engines alternate within each repeat.

- audio-separator: `MDXSeparator.demix` (onnxruntime, segment size = dim_t) on the decoded
  mixture, the secondary as `mix − compensate · primary`; `VRSeparator.loading_mix` →
  `inference_vr` → `spec_to_wav` for both stems (its defaults: window 512, aggression 5, no TTA,
  libsamplerate's `sinc_fastest` to merge the bands).
- ours: `Separator.separate` on the decoded mixture with the mdxnet / vr plugins: MDX-Net once
  with audio-separator's chunks (its `overlap` 0.25: the same segments) and once with UVR's own
  "Default" overlap (what `splifft import-uvr` and the manifests set); VR with the plugin's
  defaults (30 s chunks crossfaded over 3 s).

*network* is the time inside the network (onnxruntime session / VR `predict_mask`) for
audio-separator and inside the chunk model for ours (STFT and ISTFT included; VR: its whole
front end); *non-network* = (wall − network) ÷ network. Peak RSS is the process's
(`ru_maxrss`). The memory rows run ours alone on longer inputs, streamed from and to WAV
files (`Separator.separate_file`), one call each; `--memory-only` runs just those.

Prints Markdown tables (the "UVR models" section of `benchmarks/notes.md` is pasted from them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RATE = 44100

MDXNET = {
    "family": "mdxnet",
    # UVR-MDX-NET Inst HQ's STFT (n_fft 6144, dim_f 3072, dim_t 2**8, compensate 1.022)
    "params": {"n_fft": 6144, "dim_f": 3072, "dim_t": 256, "compensate": 1.022},
    # KUIELab's MDX 2021 TFC-TDF-U-Net configuration: 10.9 M parameters, a 44 MB graph
    "network": {"num_blocks": 11, "l": 3, "g": 32, "k": 3, "bn": 8, "bias": False},
}
CASES: dict[str, dict[str, Any]] = {
    "mdxnet-inst_hq": {**MDXNET, "overlap": 0.25},
    "vr-4band_v3-aspp": {
        "family": "vr",
        # the *_HP-* models: CascadedASPPNet at UVR's 123821 KiB size, 4band_v3
        "params": {"band_layout": "4band_v3", "network": "cascaded_aspp", "arch_size": 123821},
    },
    "vr-4band_v4-lstm": {
        "family": "vr",
        # VR 5.1 (e.g. UVR-De-Echo-Normal): CascadedNet nout 32, nout_lstm 128
        "params": {
            "band_layout": "4band_v4_ms_fullband", "network": "cascaded_lstm",
            "arch_size": 56817, "nout": 32, "nout_lstm": 128,
        },
    },
}  # fmt: skip
UVR_DEFAULT = "ours (UVR's Default overlap)"


def best_call(separate: Callable[[], object], clock: Any, calls: int) -> dict[str, Any]:
    """The fastest of `calls` calls of `separate` (wall and CPU seconds, and `clock.seconds`:
    those inside the network), with the process's peak RSS; what both runners print."""
    best: dict[str, Any] = {}
    for _ in range(calls):
        clock.seconds, clock.calls = 0.0, 0
        cpu, wall = time.process_time(), time.perf_counter()
        separate()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if not best or wall < best["wall"]:
            best = {"wall": wall, "cpu": cpu, "forward": clock.seconds, "calls": clock.calls}
    best["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return best


def write_input(path: Path, seconds: float, seed: int = 0) -> None:
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    rng = np.random.default_rng(seed)
    left = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * (300 + 40 * t) * t)
    right = 0.25 * np.sin(2 * np.pi * 330 * t + 1) + 0.1 * np.sin(2 * np.pi * 5000 * t)
    mix = np.stack([left, right]) + 0.05 * rng.standard_normal((2, n))
    sf.write(path, mix.T.astype(np.float32), RATE, subtype="FLOAT")


def run(python: str, runner: str, job: dict[str, Any]) -> dict[str, Any]:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(job["threads"]),
        "MKL_NUM_THREADS": str(job["threads"]),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [python, str(HERE / runner), json.dumps(job)], capture_output=True, text=True, env=env
    )
    if done.returncode:
        raise SystemExit(f"{runner} failed on {job['case']}:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def best(results: list[dict[str, Any]]) -> dict[str, Any]:
    return min(results, key=lambda r: float(r["wall"]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--peers-python", default=str(ROOT / ".venv-peers" / "bin" / "python"),
        help="the peers' venv python (benchmarks/make_peers_venv.sh)",
    )  # fmt: skip
    parser.add_argument("--seconds", type=float, default=45.0, help="speed input length")
    parser.add_argument("--repeats", type=int, default=2, help="processes per engine and case")
    parser.add_argument("--calls", type=int, default=1, help="timed calls per process")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--memory-minutes", type=float, nargs="*", default=[1.0, 3.0])
    parser.add_argument("--memory-only", action="store_true", help="skip the speed rows")
    opts = parser.parse_args()
    if not Path(opts.peers_python).exists():
        parser.error(f"{opts.peers_python}: no such python (bash benchmarks/make_peers_venv.sh)")
    ours_python = sys.executable
    with tempfile.TemporaryDirectory(prefix="splifft-uvr-bench-") as tmp_name:
        tmp = Path(tmp_name)
        audio = tmp / "input.wav"
        write_input(audio, opts.seconds)
        rows: list[tuple[str, str, dict[str, Any]]] = []
        sizes: dict[str, int] = {}
        for name in opts.cases:
            case = CASES[name]
            weights = tmp / (name + (".onnx" if case["family"] == "mdxnet" else ".pth"))
            init = {"mode": "init", "case": case, "weights": str(weights), "threads": 2}
            sizes[name] = int(run(opts.peers_python, "uvr_peers_runner.py", init)["params"])
            if opts.memory_only:
                continue
            job = {
                "mode": "run", "case": case, "weights": str(weights), "audio_file": str(audio),
                "calls": opts.calls, "threads": opts.threads,
            }  # fmt: skip
            engines: dict[str, tuple[str, str, dict[str, Any]]] = {
                "audio-separator 0.47.1": (opts.peers_python, "uvr_peers_runner.py", job),
                "ours": (ours_python, "uvr_ours_runner.py", job),
            }
            if case["family"] == "mdxnet":
                default = {**job, "case": {**case, "overlap": None}}
                engines[UVR_DEFAULT] = (ours_python, "uvr_ours_runner.py", default)
            results: dict[str, list[dict[str, Any]]] = {label: [] for label in engines}
            for repeat in range(opts.repeats):
                order = list(engines) if repeat % 2 == 0 else list(reversed(engines))
                for label in order:
                    results[label].append(run(*engines[label]))
                    print(f"{name} {label}: {results[label][-1]}", file=sys.stderr, flush=True)
            for label, runs in results.items():
                rows.append((name, label, best(runs)))
        memory: list[tuple[str, float, dict[str, Any]]] = []
        for minutes in opts.memory_minutes:
            long_audio = tmp / f"input-{minutes:g}min.wav"
            write_input(long_audio, minutes * 60, seed=1)
            for name in opts.cases:
                case = CASES[name]
                weights = tmp / (name + (".onnx" if case["family"] == "mdxnet" else ".pth"))
                job = {
                    "mode": "run", "case": case, "weights": str(weights),
                    "audio_file": str(long_audio), "calls": 1, "threads": opts.threads,
                    "out_dir": str(tmp / "stems"),
                }  # fmt: skip
                memory.append((name, minutes, run(ours_python, "uvr_ours_runner.py", job)))
                print(f"memory {name} {minutes} min: {memory[-1][2]}", file=sys.stderr)
    print(render(opts, rows, memory, sizes))


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def render(
    opts: argparse.Namespace,
    rows: list[tuple[str, str, dict[str, Any]]],
    memory: list[tuple[str, float, dict[str, Any]]],
    sizes: dict[str, int],
) -> str:
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    command = " ".join(["python benchmarks/uvr_vs_audio_separator.py", *sys.argv[1:]])
    lines = [
        f"Command: `{command}` on {cpu_name()}, {opts.threads} threads; load average {load} "
        "when it ended.",
    ]
    if rows:
        lines += [
            "",
            f"Speed: {opts.seconds:g} s stereo, 44.1 kHz, best of {opts.repeats} processes.",
            "",
            "| case | parameters | engine | wall s | CPU s | network s | non-network | "
            "peak RSS MiB | speed-up |",
            "|---|--:|---|--:|--:|--:|--:|--:|--:|",
        ]
    peers = {name: r for name, label, r in rows if label.startswith("audio-separator")}
    for name, label, r in rows:
        overhead = (r["wall"] - r["forward"]) / r["forward"] if r["forward"] else float("nan")
        speedup = peers[name]["wall"] / r["wall"]
        lines.append(
            f"| {name} | {sizes[name] / 1e6:.1f} M | {label} | {r['wall']:.2f} | {r['cpu']:.2f}"
            f" | {r['forward']:.2f} | {overhead:+.1%} | {r['peak_mib']:.0f} | {speedup:.2f}× |"
        )
    if memory:
        lines += [
            "",
            "Memory: ours alone, WAV to WAV stems (`separate_file`), one call each.",
            "",
            "| case | input min | wall s | peak RSS MiB |",
            "|---|--:|--:|--:|",
        ]
        for name, minutes, r in memory:
            lines.append(f"| {name} | {minutes:g} | {r['wall']:.1f} | {r['peak_mib']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
