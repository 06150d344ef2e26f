"""Peak memory of a streamed ensemble (`splifft run -m A -m B --ensemble TYPE`) against its members.

    python benchmarks/ensemble_memory.py [--minutes 1 10] [--device cpu]

Two tiny random-weight networks, imported with `splifft import-msst` from generated MSST yamls
into a temporary `SPLIFFT_HOME`: A a BS-RoFormer at 44.1 kHz, B a Mel-Band RoFormer at 48 kHz
with another chunk size, so the ensemble resamples B's blocks and the two engines' blocks differ.
Each run is a fresh process (`python -m splifft run …`, `memory_vs_length.measure`: peak RSS
from `wait4`) on a generated 44.1 kHz stereo track (`memory_vs_length.write_track`). The
baseline is a process that imports what every run imports (torch, splifft and the roformer
network) and separates nothing. The claims checked:

- the ensemble's peak ≤ peak(A) + peak(B) − baseline (each member's models and buffers, the
  interpreter and its imports counted once);
- the ensemble's peak at the longest track ≤ 1.1 × its peak at the shortest (bounded by blocks,
  not by the track).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.memory_vs_length import measure, write_track

BASELINE = "import torch, splifft.cli, splifft_core.engine, splifft_plugin_roformer.network"
"""What a run has imported before it builds a model."""

BS_YAML = """
audio: {chunk_size: 131072, num_channels: 2, sample_rate: 44100, min_mean_abs: 0.0}
model:
  dim: 32
  depth: 1
  stereo: true
  num_stems: 1
  time_transformer_depth: 1
  freq_transformer_depth: 1
  dim_head: 16
  heads: 2
  mask_estimator_depth: 1
training: {instruments: [vocals, other], target_instrument: vocals}
inference: {batch_size: 2, num_overlap: 2}
"""

MEL_YAML = """
audio: {chunk_size: 96000, num_channels: 2, sample_rate: 48000, min_mean_abs: 0.0}
model:
  dim: 32
  depth: 1
  stereo: true
  num_stems: 1
  num_bands: 16
  sample_rate: 48000
  time_transformer_depth: 1
  freq_transformer_depth: 1
  dim_head: 16
  heads: 2
  mask_estimator_depth: 1
training: {instruments: [vocals, other], target_instrument: vocals}
inference: {batch_size: 2, num_overlap: 2}
"""

ENSEMBLES = ("avg_wave", "avg_fft")

MODELS = {
    "bs_roformer-bench-tiny": ("bs_roformer", BS_YAML),
    "mel_roformer-bench-tiny": ("mel_band_roformer", MEL_YAML),
}


def make_model(home: Path, identifier: str, model_type: str, config: str) -> None:
    """Write the yaml and a random-weight checkpoint of the network it describes, and import
    them (`splifft import-msst` checks the checkpoint loads strictly)."""
    import torch
    import yaml
    from splifft_plugin_roformer import msst, network, params
    from torch import nn

    values = yaml.safe_load(config)
    torch.manual_seed(0)
    net: nn.Module
    if model_type == "bs_roformer":
        imported = msst.import_bs_roformer(values)["params"]
        net = network.build_bs_roformer(params.BSRoformerParams.model_validate(imported))
    else:
        imported = msst.import_mel_band_roformer(values)["params"]
        net = network.build_mel_roformer(params.MelRoformerParams.model_validate(imported))
    yaml_path, ckpt = home / f"{identifier}.yaml", home / f"{identifier}.ckpt"
    yaml_path.write_text(textwrap.dedent(config))
    torch.save(net.state_dict(), ckpt)
    env = {**os.environ, "SPLIFFT_HOME": str(home)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "splifft",
            "import-msst",
            str(yaml_path),
            str(ckpt),
            "--id",
            identifier,
            "--model-type",
            model_type,
        ],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def baseline() -> float:
    """Peak RSS MiB of a process that imports what a run imports and separates nothing."""
    proc = subprocess.Popen([sys.executable, "-c", BASELINE])
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"baseline failed: {BASELINE}")
    return usage.ru_maxrss / 1024  # KiB on Linux


def machine() -> str:
    import torch

    return (
        f"machine: {platform.machine()}, {os.cpu_count()} logical cores; Python "
        f"{platform.python_version()}; torch {torch.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--device", default="cpu")
    opts = parser.parse_args()
    a, b = MODELS
    runs = {
        "A": ["-m", a],
        "B": ["-m", b],
        **{f"A + B, `{kind}`": ["-m", a, "-m", b, "--ensemble", kind] for kind in ENSEMBLES},
    }
    peaks: dict[tuple[str, float], float] = {}
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="splifft-ensemble-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        for identifier, (model_type, config) in MODELS.items():
            make_model(home, identifier, model_type, config)
        os.environ["SPLIFFT_HOME"] = str(home)
        base = baseline()
        rows: list[str] = []
        for minutes in opts.minutes:
            track = Path(tmp) / f"track_{minutes:g}min.wav"
            write_track(track, minutes)
            for label, models in runs.items():
                args = ["run", str(track), *models, "-o", str(Path(tmp) / "out")]
                wall, peak = measure([*args, "--device", opts.device, "-q"])
                peaks[label, minutes] = peak
                first = peaks[label, opts.minutes[0]]
                rows.append(
                    f"| {label} | {minutes:g} | {wall:.1f} | {peak:.0f} | {peak / first:.2f} |"
                )
                print(f"  {minutes:g} min {label}: {wall:.1f} s, {peak:.0f} MiB", file=sys.stderr)
            track.unlink()
    command = " ".join(["python", "benchmarks/ensemble_memory.py", *sys.argv[1:]])
    lines += [
        f"`{command}`; {machine()}",
        "",
        f"- A: `{a}`, BS-RoFormer, 44.1 kHz, chunks of 131072 samples",
        f"- B: `{b}`, Mel-Band RoFormer, 48 kHz (its blocks are resampled to A's rate), "
        "chunks of 96000 samples",
        "- each row: `SPLIFFT_HOME=TMP python -m splifft run TRACK.wav -m A [-m B --ensemble "
        f"TYPE] -o OUT --device {opts.device} -q`, a fresh process",
        f'- baseline: `python -c "{BASELINE}"`, {base:.0f} MiB',
        "",
        "| run | minutes | wall s | peak RSS MiB | × its first peak |",
        "|---|--:|--:|--:|--:|",
        *rows,
        "",
    ]
    label_a, label_b, *ensembles = runs
    shortest, longest = opts.minutes[0], opts.minutes[-1]
    for label in ensembles:
        for minutes in opts.minutes:
            budget = peaks[label_a, minutes] + peaks[label_b, minutes] - base
            peak = peaks[label, minutes]
            verdict = "holds" if peak <= budget else "FAILS"
            lines.append(
                f"- {label}, {minutes:g} min: peak {peak:.0f} ≤ A + B − baseline = "
                f"{peaks[label_a, minutes]:.0f} + {peaks[label_b, minutes]:.0f} − {base:.0f} = "
                f"{budget:.0f} MiB: **{verdict}**"
            )
        if longest != shortest:
            ratio = peaks[label, longest] / peaks[label, shortest]
            verdict = "holds" if ratio <= 1.1 else "FAILS"
            lines.append(
                f"- {label}: {longest:g}-minute peak ÷ {shortest:g}-minute peak = {ratio:.2f} "
                f"≤ 1.10: **{verdict}**"
            )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
