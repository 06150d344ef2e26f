"""PESTO 2.0.1 or Basic Pitch 0.4.0, as released, on one job, in its own process (the peers' venv
python; `bash benchmarks/make_peers_venv.sh` installs both and pesto's torchaudio stand-in).

    .venv-peers/bin/python benchmarks/analysis_peers_runner.py '<job json>'

`job["model"]` is `pesto` (`pesto.predict`, checkpoint `mir-1k_g7`, 10 ms steps: the settings
of `pesto-riou-mir1k_g7`) or `basic_pitch` (`basic_pitch.inference`, the ONNX graph
`job["onnx"]`, which is `basic_pitch/saved_models/icassp_2022/nmp.onnx` of the wheel: the graph
`basic_pitch-bittner-icassp2022` runs). Modes (`job["mode"]`), each printing one JSON line:

- `call`: the library call alone, in-process: one untimed call, then the best of `calls` timed
  calls. PESTO: `pesto.predict(x, sr, step_size=10., model_name="mir-1k_g7")` on the mono
  WAV read into a tensor first (the call builds its model each time, as released); Basic
  Pitch: `basic_pitch.inference.predict(path, model_or_model_path=onnx)`, whose call reads the
  file (librosa) and opens the onnxruntime session itself: its API takes a path;
- `file`: the whole job as each package's command does it: PESTO `predict_from_files([path],
  output=out_dir, export_format=("csv",))` (the `pesto` command: `torchaudio.load`, here the
  stand-in's soundfile read, then predict, then the `.f0.csv`); Basic Pitch `predict_and_save([
  path], out_dir, save_midi=False, sonify_midi=False, save_model_outputs=False,
  save_notes=True, model_or_model_path=onnx)` (`basic-pitch --save-note-events` without the
  MIDI: the note CSV).

The JSON line: `wall` and `cpu` seconds of the timed call (`file`: of the whole job after the
imports), `frames` (PESTO's pitch frames) or `notes` (Basic Pitch's note events), and `threads`,
`torch.get_num_threads()` after `torch.set_num_threads(job["threads"])` (Basic Pitch runs on
onnxruntime, whose intra-op pool keeps its default; `OMP_NUM_THREADS` is set by the driver).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)  # basic_pitch's "TensorFlow is not installed" notices

PESTO_MODEL = "mir-1k_g7"
STEP_MS = 10.0


def pesto_call(job: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    pesto = importlib.import_module("pesto")
    array, rate = sf.read(job["audio_file"], dtype="float32", always_2d=True)
    x = torch.from_numpy(np.ascontiguousarray(array.mean(axis=1)))

    def call() -> dict[str, Any]:
        _, pitch, _, _ = pesto.predict(x, rate, step_size=STEP_MS, model_name=PESTO_MODEL)
        return {"frames": int(pitch.shape[-1])}

    return call


def pesto_file(job: dict[str, Any]) -> dict[str, Any]:
    pesto = importlib.import_module("pesto")
    pesto.predict_from_files(
        [job["audio_file"]],
        model_name=PESTO_MODEL,
        output=job["out_dir"],
        step_size=STEP_MS,
        export_format=("csv",),
    )
    csv = Path(job["out_dir"]) / (Path(job["audio_file"]).stem + ".f0.csv")
    return {"frames": sum(1 for _ in csv.open()) - 1}


def basic_pitch_call(job: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    inference = importlib.import_module("basic_pitch.inference")

    def call() -> dict[str, Any]:
        with contextlib.redirect_stdout(io.StringIO()):  # "Predicting MIDI for …"
            _, _, events = inference.predict(job["audio_file"], model_or_model_path=job["onnx"])
        return {"notes": len(events)}

    return call


def basic_pitch_file(job: dict[str, Any]) -> dict[str, Any]:
    inference = importlib.import_module("basic_pitch.inference")
    with contextlib.redirect_stdout(io.StringIO()):
        inference.predict_and_save(
            [job["audio_file"]],
            job["out_dir"],
            save_midi=False,
            sonify_midi=False,
            save_model_outputs=False,
            save_notes=True,
            model_or_model_path=job["onnx"],
        )
    csv = next(Path(job["out_dir"]).glob("*.csv"))
    return {"notes": sum(1 for _ in csv.open()) - 1}


def main() -> None:
    job = json.loads(sys.argv[1])
    torch.set_num_threads(int(job.get("threads", 2)))
    model, mode = job["model"], job["mode"]
    if model not in ("pesto", "basic_pitch") or mode not in ("call", "file"):
        raise SystemExit(f"unknown job: model {model!r}, mode {mode!r}")
    if mode == "file":
        Path(job["out_dir"]).mkdir(parents=True, exist_ok=True)
        cpu, wall = time.process_time(), time.perf_counter()
        info = pesto_file(job) if model == "pesto" else basic_pitch_file(job)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        result: dict[str, Any] = {"wall": wall, "cpu": cpu, **info}
    else:
        call = pesto_call(job) if model == "pesto" else basic_pitch_call(job)
        call()  # one untimed call: oneDNN's primitives, the allocator, onnxruntime's arenas
        result = {}
        for _ in range(int(job.get("calls", 1))):
            cpu, wall = time.process_time(), time.perf_counter()
            info = call()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if not result or wall < result["wall"]:
                result = {"wall": wall, "cpu": cpu, **info}
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
