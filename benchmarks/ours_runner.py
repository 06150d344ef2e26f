"""Our engine on one case, in its own process (run with the project's venv python).

    python benchmarks/ours_runner.py '<job json>'

Loads the reference network's random weights (MSST / demucs layout, unchanged) into our
plugin's network, picks the inference settings that cut the same chunks as the peer named by
`layout`, and prints one JSON line like `peers_runner.py` does.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cases import HYPERACE_KEYS, RATE, Case, msst_config
from splifft_core.config import InferenceConfig
from splifft_core.engine import precision_autocast
from splifft_core.models import ArchitectureSpec
from splifft_core.separator import Separator


def case_from(data: dict[str, Any]) -> Case:
    return Case(**{**data, "stems": tuple(data["stems"])})


def test_audio(seconds: float) -> Tensor:
    n = round(seconds * RATE)
    return 0.1 * torch.randn(2, n, generator=torch.Generator().manual_seed(1))


class ForwardClock:
    """Seconds spent inside the chunk model (STFT, network, ISTFT), via forward hooks.

    On CUDA each hook waits for the device, so the seconds are the kernels', not the launches'.
    """

    def __init__(self, device: torch.device) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.chunks = 0
        self._start = 0.0
        self.device = device

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def attach(self, module: nn.Module) -> None:
        module.register_forward_pre_hook(self._pre)
        module.register_forward_hook(self._post)

    def _pre(self, module: nn.Module, args: tuple[Tensor, ...]) -> None:
        self._sync()
        self._start = time.perf_counter()
        self.chunks += int(args[0].shape[0])

    def _post(self, module: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> None:
        self._sync()
        self.seconds += time.perf_counter() - self._start
        self.calls += 1


def spec_and_params(case: Case) -> tuple[ArchitectureSpec, dict[str, Any]]:
    """Our architecture and params for the case, through the plugins' own importers.

    The plugins are separate distributions, imported by name (found by any mypy invocation).
    """
    plugin, spec_name, importer = {
        "bs_roformer": ("roformer", "BS_ROFORMER", "import_bs_roformer"),
        "mel_roformer": ("roformer", "MEL_ROFORMER", "import_mel_band_roformer"),
        "mdx23c": ("mdx23c", "SPEC", "import_msst"),
        "htdemucs": ("demucs", "SPEC", ""),
        "bs_roformer_hyperace": ("roformer", "BS_ROFORMER_HYPERACE", "import_bs_roformer"),
        "apollo": ("apollo", "SPEC", "import_msst"),
    }[case.family]
    module = importlib.import_module(f"splifft_plugin_{plugin}")
    spec: ArchitectureSpec = getattr(module, spec_name)
    if not importer:  # demucs: our params are demucs' own kwargs
        return spec, {**case.model, "samplerate": RATE, "audio_channels": 2}
    msst = importlib.import_module(f"splifft_plugin_{plugin}.msst")
    params: dict[str, Any] = getattr(msst, importer)(msst_config(case))["params"]
    if case.family == "bs_roformer_hyperace":  # MSST's BS-RoFormer keys plus the heads'
        params.update({k: case.model[k] for k in HYPERACE_KEYS if k in case.model})
        # the peer's chunk model (0.0.9's STFT → masks → ISTFT) keeps the DC bin that MSST's
        # roformers, and so ours by default, zero: left in, both compute the same output (within
        # float32 noise, 4e-4 of the peak; 5e-3 with it zeroed on one side only)
        params["zero_dc"] = False
    return spec, params


def matched_inference(case: Case, layout: str) -> InferenceConfig:
    """Settings that put the chunks where the peer puts them (same count, size and hop)."""
    hop = case.hop_size
    common: dict[str, Any] = {"hop_size": hop, "batch_size": case.batch_size}
    if layout == "splifft009":
        # pad chunk - hop on both sides, hann windows, full chunks every hop
        return InferenceConfig(chunk_layout="splifft", window_shape="hann", **common)
    if layout == "audiosep" and case.family == "mdx23c":
        # MDXC: zero-pad chunk - hop on both sides, plain sum / overlap
        return InferenceConfig(
            chunk_layout="splifft",
            window_shape="rectangular",
            padding_mode="constant",
            **common,
        )
    if layout == "audiosep":
        # roformer demix: no edge padding, hamming windows, a chunk every hop
        return InferenceConfig(
            chunk_layout="splifft",
            window_shape="hamming",
            edge_padding=0,
            padding_mode="constant",
            **common,
        )
    if layout == "msst":
        # MSST's generic demix: reflect-pad chunk - hop on both sides, a chunk every hop,
        # linear fades of chunk // 10 (none at the outer edges)
        return InferenceConfig(
            chunk_layout="msst",
            window_shape="linear_fade",
            fade_size=case.chunk_size // 10,
            padding_mode="reflect",
            **common,
        )
    if layout == "demucs":
        return InferenceConfig(
            chunk_layout="centered_tail",
            window_shape="triangular",
            padding_mode="constant",
            overlap_ratio=case.overlap_ratio or 0.0,
            batch_size=case.batch_size,
        )
    raise ValueError(f"unknown layout {layout!r}")


def build(
    case: Case, layout: str, weights: str, device: torch.device, precision: str = "float32"
) -> Separator:
    spec, params = spec_and_params(case)
    state = torch.load(weights, weights_only=True)
    inference = matched_inference(case, layout).model_copy(update={"precision": precision})
    hyperace = case.family == "bs_roformer_hyperace"
    if spec.checkpoint_loader is None and not hyperace:
        return Separator.from_spec(spec, params, state, inference=inference, device=device)
    # htdemucs loads checkpoint files and 0.0.9's HyperACE state dict lacks the rotary tables:
    # the bare state dict goes through the transform, then loads strictly
    separator = Separator.from_spec(spec, params, None, inference=inference, device=device)
    network = separator.model.network
    state = spec.transform_checkpoint(state, separator.params)
    if hyperace:
        # splifft 0.0.9 computes its rotary frequencies; we (and the checkpoints) store them
        own = network.state_dict()
        rotary = {k: v for k, v in own.items() if k.endswith("rotary_embed.freqs")}
        state = {**rotary, **state}
    network.load_state_dict(state, strict=True)
    return separator


KERNELS = {
    "matmul": (
        "aten::mm",
        "aten::addmm",
        "aten::bmm",
        "aten::baddbmm",
        "aten::_addmm_activation",
        "mkldnn::_linear_pointwise",
    ),
    "attention": ("aten::_scaled_dot_product",),
    "convolution": ("aten::mkldnn_convolution", "aten::slow_conv", "aten::_nnpack"),
    "fft": ("aten::_fft_",),
}
"""Operators whose arithmetic is the same whichever engine calls them (by name prefix)."""


def profile_forward(model: nn.Module, chunk: Tensor) -> dict[str, float]:
    """Self CPU seconds of one forward by kernel family (`KERNELS`, the rest is `other`)."""
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
        model(chunk)
    shares = dict.fromkeys([*KERNELS, "other"], 0.0)
    for event in prof.key_averages():
        family = next(
            (name for name, prefixes in KERNELS.items() if event.key.startswith(prefixes)),
            "other",
        )
        shares[family] += event.self_cpu_time_total / 1e6
    return shares


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    job = json.loads(sys.argv[1])
    torch.set_num_threads(int(job.get("threads", 2)))
    case = case_from(job["case"])
    device = torch.device(job.get("device", "cpu"))
    precision = job.get("precision", "float32")
    separator = build(case, job["layout"], job["weights"], device, precision)
    clock = ForwardClock(device)
    run: Callable[[], object]
    if job.get("audio_file"):
        out_dir = job.get("out_dir") or tempfile.mkdtemp(prefix="splifft-bench-")

        def run() -> object:
            return separator.separate_file(job["audio_file"], out_dir, file_format="wav")

    else:
        audio = test_audio(job["seconds"])

        def run() -> object:
            return separator.separate(audio, RATE)

    if job["warmup"]:
        chunk = torch.zeros(1, 2, separator.chunk_size, device=device)
        autocast = precision_autocast(device, precision)
        with torch.inference_mode(), autocast or contextlib.nullcontext():
            separator.model(chunk)
    clock.attach(separator.model)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    before = rss_mib()
    # the best of several calls: the machine is shared, bursts of other work only add time
    best: dict[str, Any] = {}
    for _ in range(int(job.get("calls", 1))):
        clock.seconds, clock.calls, clock.chunks = 0.0, 0, 0
        cpu, wall = time.process_time(), time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if not best or wall < best["wall"]:
            best = {"wall": wall, "cpu": cpu, "forward": clock.seconds}
            best.update(calls=clock.calls, chunks=clock.chunks, rss_before_mib=before)
    if device.type == "cuda":
        best["gpu_peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    if job.get("profile") and device.type == "cpu":
        chunk = 0.1 * torch.randn(case.batch_size, 2, separator.chunk_size)
        best["profile"] = profile_forward(separator.model, chunk)  # after the timed calls
    print(json.dumps(best))


if __name__ == "__main__":
    main()
