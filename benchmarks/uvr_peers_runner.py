# mypy: ignore-errors
"""audio-separator 0.47.1 on one UVR case, in its own process (the peers' venv python).

    .venv-peers/bin/python benchmarks/uvr_peers_runner.py '<job json>'

Modes (`job["mode"]`):

- `init`: the case's network with seeded random weights, written to `job["weights"]`. MDX-Net:
  UVR's `ConvTDFNet` (audio-separator's copy of KUIELab's TFC-TDF-U-Net) exported to ONNX;
  VR: UVR's `nets` / `nets_new` network, its state dict as UVR's `.pth`.
- `run`: audio-separator's own inference on `job["audio_file"]`: `MDXSeparator.demix` (its
  onnxruntime path, segment size = dim_t) on the decoded mixture, or `VRSeparator`'s
  `loading_mix` → `inference_vr` → `spec_to_wav` (both stems). Prints one JSON line: wall and
  CPU seconds of the best call, the seconds inside the network, peak RSS.

audio-separator imports `onnx2torch` at module level for MDX-Net's PyTorch path (segment sizes
other than dim_t), which needs a torchvision no CPU torch here matches: it is stubbed, unused.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
import types
import zlib
from pathlib import Path

import numpy as np
import torch
from uvr_vs_audio_separator import best_call

RATE = 44100


def seeded(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per-key seeded weights away from init (norm statistics kept plausible)."""
    out = {}
    for key, value in state.items():
        if not value.is_floating_point():
            out[key] = value.clone()
            continue
        g = torch.Generator().manual_seed(zlib.crc32(key.replace(".conv7.", ".conv6.").encode()))
        u = torch.rand(value.shape, generator=g) - 0.5
        if key.endswith("running_var"):
            out[key] = 0.5 + u.abs()
        elif key.endswith("running_mean"):
            out[key] = 0.2 * u
        elif value.dim() == 1 and "weight" in key and "lstm" not in key:
            out[key] = 1.0 + 0.4 * u
        elif value.dim() == 1:
            out[key] = 0.2 * u
        else:
            fan_in = value[0].numel()
            out[key] = u * 2 * math.sqrt(3.0 / fan_in)
    return out


def _stub_lightning() -> None:
    """`uvr_lib_v5/mdxnet.py` subclasses pytorch_lightning's LightningModule (training only)."""
    module = types.ModuleType("pytorch_lightning")
    module.LightningModule = torch.nn.Module
    sys.modules.setdefault("pytorch_lightning", module)


def _stub_onnx2torch() -> None:
    sys.modules.setdefault("onnx2torch", types.ModuleType("onnx2torch"))


class MdxGraph(torch.nn.Module):
    """The exported graph: what UVR's ONNX files compute, `[batch, 4, dim_f, dim_t]` → same."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def init_mdxnet(case: dict, path: Path) -> int:
    _stub_lightning()
    from audio_separator.separator.uvr_lib_v5.mdxnet import ConvTDFNet

    p = case["params"]
    net = ConvTDFNet(
        target_name="vocals", lr=1e-4, optimizer="rmsprop", dim_c=4, dim_f=p["dim_f"],
        dim_t=p["dim_t"], n_fft=p["n_fft"], hop_length=1024, overlap=0, **case["network"],
    )  # fmt: skip
    net.load_state_dict(seeded(net.state_dict()))
    graph = MdxGraph(net).eval()
    example = torch.randn(1, 4, p["dim_f"], p["dim_t"])
    torch.onnx.export(
        graph, (example,), str(path), input_names=["input"], output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, dynamo=False,
        opset_version=17,
    )  # fmt: skip
    return sum(t.numel() for t in net.parameters())


def vr_network(case: dict):
    from audio_separator.separator.uvr_lib_v5.vr_network import nets, nets_new
    from audio_separator.separator.uvr_lib_v5.vr_network.model_param_init import ModelParameters

    p = case["params"]
    model_params = ModelParameters(str(_vr_params_dir() / f"{p['band_layout']}.json"))
    bins2 = model_params.param["bins"] * 2
    if p["network"] == "cascaded_lstm":
        net = nets_new.CascadedNet(bins2, p["arch_size"], nout=p["nout"], nout_lstm=p["nout_lstm"])
    else:
        net = nets.determine_model_capacity(bins2, p["arch_size"])
    return net, model_params


def _vr_params_dir() -> Path:
    from audio_separator.separator.uvr_lib_v5 import spec_utils

    return Path(spec_utils.__file__).parent / "vr_network" / "modelparams"


def init_vr(case: dict, path: Path) -> int:
    net, _ = vr_network(case)
    state = seeded(net.state_dict())
    torch.save(state, path)
    return sum(t.numel() for t in net.parameters())


class ForwardClock:
    """Seconds inside the network calls that `wrap` times."""

    def __init__(self) -> None:
        self.seconds, self.calls = 0.0, 0

    def wrap(self, call):
        def timed(*args):
            start = time.perf_counter()
            out = call(*args)
            self.seconds += time.perf_counter() - start
            self.calls += 1
            return out

        return timed


def run_mdxnet(case: dict, job: dict):
    _stub_onnx2torch()
    import soundfile as sf
    from audio_separator.separator.architectures.mdx_separator import MDXSeparator

    p = case["params"]
    sep = object.__new__(MDXSeparator)  # its __init__ wants a whole CommonSeparator setup
    sep.logger = logging.getLogger("mdx")
    sep.logger.setLevel(logging.WARNING)
    sep.log_level = logging.WARNING
    sep.model_path = job["weights"]
    sep.onnx_execution_provider = ["CPUExecutionProvider"]
    sep.torch_device = torch.device("cpu")
    sep.segment_size = sep.dim_t = p["dim_t"]
    sep.overlap, sep.batch_size, sep.hop_length = case["overlap"], 1, 1024
    sep.enable_denoise = False
    sep.compensate, sep.dim_f, sep.n_fft = p["compensate"], p["dim_f"], p["n_fft"]
    sep.load_model()
    clock = ForwardClock()
    sep.model_run = clock.wrap(sep.model_run)  # the onnxruntime call `run_model` makes

    def separate():
        mix, _ = sf.read(job["audio_file"], dtype="float32", always_2d=True)
        primary = sep.demix(np.ascontiguousarray(mix.T))
        return primary, mix.T - primary * sep.compensate

    return separate, clock


def run_vr(case: dict, job: dict):
    from audio_separator.separator.architectures.vr_separator import VRSeparator
    from audio_separator.separator.uvr_lib_v5 import spec_utils

    p = case["params"]
    net, model_params = vr_network(case)
    net.load_state_dict(torch.load(job["weights"], weights_only=True))
    net.eval()
    sep = VRSeparator.__new__(VRSeparator)
    sep.logger = logging.getLogger("vr")
    sep.logger.setLevel(logging.WARNING)
    sep.model_params = model_params
    sep.model_run = net
    sep.is_vr_51_model = p["network"] == "cascaded_lstm"
    sep.enable_tta = False
    sep.enable_post_process = False
    sep.post_process_threshold = 0.2
    sep.batch_size = 1
    sep.window_size = 512
    sep.high_end_process = False
    sep.input_high_end_h = None
    sep.input_high_end = None
    sep.torch_device_mps = None
    sep.primary_stem_name = "Instrumental"
    sep.audio_file_path = job["audio_file"]
    sep.wav_subtype = "FLOAT"
    aggressiveness = {
        "value": 0.05,
        "split_bin": model_params.param["band"][1]["crop_stop"],
        "aggr_correction": model_params.param.get("aggr_correction"),
    }
    clock = ForwardClock()
    # what `inference_vr` calls (it calls `forward` directly, past any module hook)
    net.predict_mask = clock.wrap(net.predict_mask)
    del spec_utils  # its resampler stays audio-separator's default (`sinc_fastest`)

    def separate():
        y_spec, v_spec = sep.inference_vr(sep.loading_mix(), "cpu", aggressiveness)
        return sep.spec_to_wav(y_spec), sep.spec_to_wav(v_spec)

    return separate, clock


def main() -> None:
    job = json.loads(sys.argv[1])
    torch.set_num_threads(int(job.get("threads", 2)))
    case = job["case"]
    if job["mode"] == "init":
        init = {"mdxnet": init_mdxnet, "vr": init_vr}[case["family"]]
        print(json.dumps({"params": init(case, Path(job["weights"]))}))
        return
    separate, clock = {"mdxnet": run_mdxnet, "vr": run_vr}[case["family"]](case, job)
    print(json.dumps(best_call(separate, clock, int(job.get("calls", 1)))))


if __name__ == "__main__":
    main()
