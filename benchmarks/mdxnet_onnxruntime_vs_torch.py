# mypy: ignore-errors
"""Why the mdxnet plugin runs UVR's ONNX graphs through onnxruntime: one MDX-Net segment through
onnxruntime and through PyTorch, on the CPU.

    .venv-peers/bin/python benchmarks/mdxnet_onnxruntime_vs_torch.py [--repeats 4]

The network is UVR's `ConvTDFNet` (audio-separator's copy) at the size of `uvr_vs_audio_separator.py`'s
MDX-Net case, seeded random weights, exported to ONNX as UVR's files are. A PyTorch conversion
of the graph (onnx2torch, UVR's path for other segment sizes) can at best run what this module
runs, so the module itself stands for it: eager float32, eager float32 channels-last, and
bfloat16 autocast channels-last (not float32's numbers: shown for scale). onnxruntime runs the
graph with its default session options (all graph optimizations) and 2 intra-op threads. Each
row is the best of `--repeats` calls after two warm-up calls (onnxruntime's second call still
grows its arena). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import uvr_peers_runner as peers
import uvr_vs_audio_separator as cases


def best_of(call, repeats: int) -> float:
    call()
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    opts = parser.parse_args()
    torch.set_num_threads(opts.threads)
    import onnxruntime as ort

    case = cases.MDXNET
    p = case["params"]
    peers._stub_lightning()
    from audio_separator.separator.uvr_lib_v5.mdxnet import ConvTDFNet

    net = ConvTDFNet(
        target_name="vocals", lr=1e-4, optimizer="rmsprop", dim_c=4, dim_f=p["dim_f"],
        dim_t=p["dim_t"], n_fft=p["n_fft"], hop_length=1024, overlap=0, **case["network"],
    ).eval()  # fmt: skip
    net.load_state_dict(peers.seeded(net.state_dict()))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 4, p["dim_f"], p["dim_t"])).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mdxnet.onnx"
        peers.init_mdxnet(case, path)  # the same seeded weights, exported
        options = ort.SessionOptions()
        options.intra_op_num_threads = opts.threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        (reference,) = session.run(None, {"input": x})
        rows.append(
            ("onnxruntime", best_of(lambda: session.run(None, {"input": x}), opts.repeats), 0.0)
        )
    xt = torch.from_numpy(x)
    scale = float(np.abs(reference).max())
    with torch.inference_mode():
        variants = {
            "PyTorch eager, float32": (net, xt, None),
            "PyTorch channels-last, float32": (
                net.to(memory_format=torch.channels_last),
                xt.contiguous(memory_format=torch.channels_last),
                None,
            ),
        }
        variants["PyTorch channels-last, bfloat16 autocast"] = (
            *variants["PyTorch channels-last, float32"][:2],
            torch.bfloat16,
        )
        for label, (module, inp, dtype) in variants.items():

            def call(module=module, inp=inp, dtype=dtype):
                with torch.autocast("cpu", dtype or torch.bfloat16, enabled=dtype is not None):
                    return module(inp)

            error = float((call().float() - torch.from_numpy(reference)).abs().max()) / scale
            rows.append((label, best_of(call, opts.repeats), error))
    ort_seconds = rows[0][1]
    print(
        f"One segment `(1, 4, {p['dim_f']}, {p['dim_t']})`, {opts.threads} threads, "
        f"best of {opts.repeats}:\n"
    )
    print("| runtime | s per segment | vs onnxruntime | max error ÷ peak |")
    print("|---|--:|--:|--:|")
    for label, seconds, error in rows:
        print(f"| {label} | {seconds:.2f} | {ort_seconds / seconds:.2f}× | {error:.1e} |")


if __name__ == "__main__":
    main()
