"""float32 linear layers on this CPU: `F.linear` (MKL sgemm) against oneDNN's matmul.

    python benchmarks/linear_kernels.py [--threads 2]

The shapes are the projections of the benchmark cases (tokens × in → out). Prints a Markdown
table: best-of-N milliseconds, GFLOP/s, and the largest difference from a float64 result
relative to the output's scale (both kernels compute in float32).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from splifft_core.allocator import keep_freed_memory
from splifft_core.kernels import linear, onednn_linear_available

SHAPES = [
    ("roformer small: qkv", 15934, 64, 384),
    ("roformer small: feed-forward in", 15934, 64, 256),
    ("roformer small: feed-forward out", 15934, 256, 64),
    ("viperx 1 s: qkv", 6262, 512, 1536),
    ("viperx 1 s: feed-forward in", 6262, 512, 2048),
    ("viperx 1 s: feed-forward out", 6262, 2048, 512),
    ("viperx 8 s: feed-forward in", 49662, 512, 2048),
    ("htdemucs: feed-forward in", 2688, 512, 2048),
]


def best_ms(
    layer: Callable[..., torch.Tensor], args: tuple[torch.Tensor, ...], repeats: int
) -> float:
    layer(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        layer(*args)
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    opts = parser.parse_args()
    torch.set_num_threads(opts.threads)
    keep_freed_memory()
    print(f"oneDNN linear available: {onednn_linear_available()}; threads: {opts.threads}\n")
    print(
        "| layer | rows × in → out | F.linear ms | GFLOP/s | oneDNN ms | GFLOP/s | speed-up | "
        "max error (F.linear / oneDNN) |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    generator = torch.Generator().manual_seed(0)
    for name, rows, n_in, n_out in SHAPES:
        x = torch.randn(rows, n_in, generator=generator)
        w = torch.randn(n_out, n_in, generator=generator) / n_in**0.5
        b = torch.randn(n_out, generator=generator)
        with torch.inference_mode():
            exact = F.linear(x.double(), w.double(), b.double())
            scale = exact.abs().max().item()
            errors = [
                (F.linear(x, w, b).double() - exact).abs().max().item() / scale,
                (linear(x, w, b).double() - exact).abs().max().item() / scale,
            ]
            mkl = best_ms(F.linear, (x, w, b), opts.repeats)
            onednn = best_ms(linear, (x, w, b), opts.repeats)
        flops = 2 * rows * n_in * n_out / 1e6
        print(
            f"| {name} | {rows} × {n_in} → {n_out} | {mkl:.2f} | {flops / mkl:.0f} | "
            f"{onednn:.2f} | {flops / onednn:.0f} | {mkl / onednn:.2f}× | "
            f"{errors[0]:.1e} / {errors[1]:.1e} |"
        )


if __name__ == "__main__":
    main()
