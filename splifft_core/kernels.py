"""Linear layers through oneDNN's matmul on x86 CPUs.

PyTorch runs a float32 `F.linear` on CPU through MKL's sgemm, which takes a narrower code path
on non-Intel processors; oneDNN's matmul (`torch.ops.mkldnn._linear_pointwise`, the kernel
`torch.compile` uses for frozen linear layers) picks its kernels from the CPU's features. On an
AMD EPYC with AVX-512 it ran the roformer and HTDemucs projections 2.0–2.3× faster, in the same
float32 arithmetic (`python benchmarks/linear_kernels.py`). It can also fuse the GELU or the residual sum that
follows. Inputs it does not cover (autograd, autocast, other devices and dtypes, tiny
products) go to `F.linear`.

`SPLIFFT_ONEDNN=0` makes every call use `F.linear` (process-wide). For one separator,
`Separator.from_spec(fast_kernels=False)` (`splifft_core.api.load`, `splifft run
--no-fast-kernels`) leaves its `nn.Linear` layers alone and runs its network under
[onednn_disabled][splifft_core.kernels.onednn_disabled], so the layers a plugin writes with
`linear` use `F.linear` too.
"""

from __future__ import annotations

import contextlib
import platform
import warnings
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from splifft_core.settings import settings

MIN_MACS = 1 << 20
"""Below this many multiply-adds oneDNN's per-call setup costs more than it saves."""

_available: bool | None = None
_disabled: ContextVar[int] = ContextVar("splifft_onednn_disabled", default=0)
"""How many `onednn_disabled` scopes are open in this context (thread, task)."""


def onednn_linear_available() -> bool:
    """Whether oneDNN linear is on for this process (checked once, against `F.linear`)."""
    global _available
    if _available is None:
        _available = _probe()
    return _available


def onednn_platform() -> bool:
    """An x86 CPU and a torch build with oneDNN (the only place the kernel is used)."""
    built: bool = torch.backends.mkldnn.is_available()  # type: ignore[no-untyped-call]
    return built and platform.machine().lower() in ("x86_64", "amd64")


def _probe() -> bool:
    if not settings().onednn or not onednn_platform():
        return False
    generator = torch.Generator().manual_seed(0)
    x, w, b = (torch.randn(*s, generator=generator) for s in ((37, 96), (80, 96), (80,)))
    try:
        with torch.inference_mode():
            fused = torch.ops.mkldnn._linear_pointwise(x, w, b, "gelu", [], "none")
            summed = torch.ops.mkldnn._linear_pointwise.binary(x, fused, w, b, "add")
            ok = torch.allclose(fused, F.gelu(F.linear(x, w, b)), rtol=1e-5, atol=1e-5)
            ok &= torch.allclose(summed, F.linear(x, w, b) + fused, rtol=1e-5, atol=1e-5)
    except (AttributeError, RuntimeError) as exc:
        warnings.warn(f"oneDNN linear unavailable, using F.linear: {exc}", stacklevel=3)
        return False
    if not ok:
        warnings.warn("oneDNN linear disagrees with F.linear; using F.linear", stacklevel=3)
    return bool(ok)


def _use_onednn(x: Tensor, weight: Tensor) -> bool:
    if x.device.type != "cpu" or x.dtype != torch.float32 or weight.dtype != torch.float32:
        return False
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        return False  # the fused op has no backward
    if torch.is_autocast_enabled("cpu"):
        return False  # autocast picks the dtype through F.linear
    rows = x.numel() // max(x.shape[-1], 1)
    if rows * weight.shape[0] * weight.shape[1] < MIN_MACS:
        return False
    return not _disabled.get() and onednn_linear_available()


def linear(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    *,
    activation: Literal["none", "gelu"] = "none",
    residual: Tensor | None = None,
) -> Tensor:
    """`activation(F.linear(x, weight, bias)) + residual` (one of the two at most)."""
    if activation != "none" and residual is not None:
        raise ValueError("linear fuses an activation or a residual sum, not both")
    if _use_onednn(x, weight) and (bias is None or bias.dtype == torch.float32):
        shape = (*x.shape[:-1], weight.shape[0])
        if residual is not None and residual.dtype == torch.float32 and residual.shape == shape:
            out: Tensor = torch.ops.mkldnn._linear_pointwise.binary(
                x, residual, weight, bias, "add"
            )
            return out
        if residual is None:
            out = torch.ops.mkldnn._linear_pointwise(x, weight, bias, activation, [], "none")
            return out
    out = F.linear(x, weight, bias)
    if activation == "gelu":
        out = F.gelu(out)
    if residual is not None:
        out = out + residual
    return out


class FastLinear(nn.Linear):
    """`nn.Linear` whose forward goes through `linear` (same parameters, same state dict)."""

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.weight, self.bias)


def use_fast_linear(module: nn.Module) -> int:
    """Make every plain `nn.Linear` in `module` a `FastLinear`, in place; returns how many.

    Subclasses of `nn.Linear` are left alone: they may compute something else.
    """
    count = 0
    for sub in module.modules():
        if type(sub) is nn.Linear:
            sub.__class__ = FastLinear
            count += 1
    return count


@contextlib.contextmanager
def onednn_disabled() -> Iterator[None]:
    """Within this block (in this thread or task), `linear` always uses `F.linear`."""
    token = _disabled.set(_disabled.get() + 1)
    try:
        yield
    finally:
        _disabled.reset(token)


def use_plain_linear(module: nn.Module) -> None:
    """Run `module`'s forward under `onednn_disabled` (forward hooks; parameters untouched)."""

    def enter(*_: Any) -> None:
        _disabled.set(_disabled.get() + 1)

    def leave(*_: Any) -> None:
        _disabled.set(max(0, _disabled.get() - 1))

    module.register_forward_pre_hook(enter)
    module.register_forward_hook(leave, always_call=True)
