"""Linear layers through oneDNN's matmul on x86 CPUs; channels-last convolution helpers.

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


# Channels-last convolution helpers. A `(b, c, h, w)` tensor stored channels-last is a
# `(b, h, w, c)` matrix of pixels: a 1×1 convolution is then one matmul over the channels, and
# oneDNN's channels-last convolution, batch-norm and resize kernels need no layout reorders. On
# the convolutional heads measured in `benchmarks/notes.md` this ran the 1×1 convolutions
# 1.2–6× and the instance norms with their SiLU 2–7× faster than the same ops on NCHW tensors.


def channels_last(x: Tensor) -> Tensor:
    """`x` stored channels-last (no copy when it already is)."""
    return x.contiguous(memory_format=torch.channels_last)


def _is_pointwise(conv: nn.Conv2d) -> bool:
    return (
        conv.kernel_size == (1, 1)
        and conv.stride == (1, 1)
        and conv.padding in ((0, 0), "valid")
        and conv.dilation == (1, 1)
        and conv.groups == 1
    )


def pointwise_conv(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, *, residual: Tensor | None = None
) -> Tensor:
    """A 1×1 convolution (`weight` `(out, in)` or `(out, in, 1, 1)`) `+ residual`, as `linear`
    over the channels of channels-last pixels; channels-last out."""
    pixels = channels_last(x).permute(0, 2, 3, 1)
    rows = None if residual is None else channels_last(residual).permute(0, 2, 3, 1)
    out = linear(pixels, weight.flatten(1), bias, residual=rows)
    return out.permute(0, 3, 1, 2)


def conv2d(x: Tensor, conv: nn.Conv2d, *, residual: Tensor | None = None) -> Tensor:
    """`conv(x) + residual`, channels-last in and out."""
    if _is_pointwise(conv):
        return pointwise_conv(x, conv.weight, conv.bias, residual=residual)
    out: Tensor = conv(channels_last(x))
    return out if residual is None else out + residual


def linear_last_axis(x: Tensor, weight: Tensor, *, residual: Tensor | None = None) -> Tensor:
    """`F.linear(x, weight) + residual` over the last axis of a `(b, c, h, w)` tensor,
    channels-last out.

    Channels-last, each pixel row is a `(w, c)` matrix: one batched matmul, no transposes.
    """
    batch, channels, h, w = x.shape
    rows = channels_last(x).permute(0, 2, 3, 1).reshape(batch * h, w, channels)
    shape = (batch, h, weight.shape[0], channels)
    weights = weight.expand(batch * h, -1, -1)
    if residual is None:
        out = torch.bmm(weights, rows)
    else:
        base = channels_last(residual).permute(0, 2, 3, 1).reshape(batch * h, *shape[2:])
        out = torch.baddbmm(base, weights, rows)
    return out.view(shape).permute(0, 3, 1, 2)


def instance_norm(
    x: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float, *, silu: bool = False
) -> Tensor:
    """`F.instance_norm(x, weight=…, bias=…, eps=…)` (then SiLU), channels-last in and out.

    An instance's statistics are its batch statistics as a batch of one, so each item goes
    through batch norm's channels-last kernel (`F.instance_norm` has none).
    """
    items = [
        F.batch_norm(item, None, None, weight, bias, True, 0.0, eps)
        for item in torch.split(channels_last(x), 1)
    ]
    out = items[0] if len(items) == 1 else torch.cat(items)
    if silu:
        out = F.silu(out, inplace=not torch.is_grad_enabled())
    return out
