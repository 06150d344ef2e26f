"""oneDNN linear layers against float64 references, and the cases that must fall back."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from splifft_core import kernels

ONEDNN = kernels.onednn_platform()


def reference(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """The same layer in float64: an independent, more precise result."""
    return F.linear(x.double(), w.double(), None if b is None else b.double())


def tensors(*shapes: tuple[int, ...]) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(sum(map(sum, shapes)))
    return [torch.randn(*s, generator=generator) for s in shapes]


@pytest.fixture(autouse=True)
def fresh_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPLIFFT_ONEDNN", raising=False)
    monkeypatch.setattr(kernels, "_available", None)


@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_matches_float64_on_a_grid_input(with_bias: bool) -> None:
    x, w, b = tensors((2, 37, 29, 64), (192, 64), (192,))
    bias = b if with_bias else None
    with torch.inference_mode():
        assert kernels._use_onednn(x, w) is ONEDNN
        out = kernels.linear(x, w, bias)
    assert out.shape == (2, 37, 29, 192) and out.dtype == torch.float32
    torch.testing.assert_close(out.double(), reference(x, w, bias), rtol=1e-5, atol=1e-5)


def test_linear_takes_strided_inputs() -> None:
    x, w, b = tensors((1, 64, 300, 48), (96, 48), (96,))
    view = x.transpose(1, 2)  # (1, 300, 64, 48), not contiguous
    with torch.inference_mode():
        out = kernels.linear(view, w, b)
    torch.testing.assert_close(out.double(), reference(view, w, b), rtol=1e-5, atol=1e-5)


def test_fused_gelu_is_the_exact_erf_gelu() -> None:
    x, w, b = tensors((4000, 64), (256, 64), (256,))
    with torch.inference_mode():
        out = kernels.linear(x, w, b, activation="gelu")
    pre = reference(x, w, b)
    expected = 0.5 * pre * (1 + torch.erf(pre / 2**0.5))  # GELU by its definition
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)


def test_fused_residual_sum() -> None:
    x, w, b, r = tensors((3000, 128), (64, 128), (64,), (3000, 64))
    with torch.inference_mode():
        out = kernels.linear(x, w, b, residual=r)
    torch.testing.assert_close(out.double(), reference(x, w, b) + r.double(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="not both"):
        kernels.linear(x, w, b, activation="gelu", residual=r)


def test_falls_back_where_onednn_does_not_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    x, w, b = tensors((4000, 64), (256, 64), (256,))
    weight = nn.Parameter(w)
    # autograd: the fused kernel has no backward, F.linear keeps the graph
    out = kernels.linear(x, weight, b)
    assert not kernels._use_onednn(x, weight) and out.grad_fn is not None
    torch.autograd.backward(out.sum())
    assert weight.grad is not None
    with torch.inference_mode():
        assert not kernels._use_onednn(x[:2, :8], w[:8, :8])  # too small to pay
        assert not kernels._use_onednn(x.double(), w.double())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not kernels._use_onednn(x, w)
            assert kernels.linear(x, w, b).dtype == torch.bfloat16
    monkeypatch.setenv("SPLIFFT_ONEDNN", "0")
    monkeypatch.setattr(kernels, "_available", None)
    with torch.inference_mode():
        assert not kernels._use_onednn(x, w)
        torch.testing.assert_close(kernels.linear(x, w, b), F.linear(x, w, b), rtol=0, atol=0)


def test_use_fast_linear_keeps_state_and_output() -> None:
    class Sub(nn.Linear):
        pass

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64), Sub(64, 8))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(500, 64)
    with torch.inference_mode():
        expected = net(x)
        assert kernels.use_fast_linear(net) == 2
        out = net(x)
    assert [type(m).__name__ for m in net] == ["FastLinear", "GELU", "FastLinear", "Sub"]
    assert net.state_dict().keys() == state.keys()
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items())
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_onednn_disabled_scope_and_plain_linear_hooks() -> None:
    x, w, _ = tensors((4000, 64), (256, 64), (256,))
    seen: list[bool] = []

    class Probe(nn.Module):
        def forward(self, x: torch.Tensor, fail: bool = False) -> torch.Tensor:
            seen.append(kernels._use_onednn(x, w))
            if fail:
                raise RuntimeError("inside")
            return x

    with torch.inference_mode():
        with kernels.onednn_disabled():
            assert not kernels._use_onednn(x, w)
        assert kernels._use_onednn(x, w) is ONEDNN
        probe = Probe()
        kernels.use_plain_linear(probe)
        probe(x)
        with pytest.raises(RuntimeError):
            probe(x, fail=True)
        assert seen == [False, False]
        assert kernels._use_onednn(x, w) is ONEDNN  # the scope closed, even after the error


@pytest.mark.parametrize("fast", [None, True, False])
def test_from_spec_applies_the_speed_ups_only_when_asked(
    fast: bool | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from splifft_core import allocator
    from splifft_core.separator import Separator
    from tests.fake_plugins import identity

    calls: list[str] = []

    def swap(network: nn.Module) -> int:
        calls.append("swap")
        return 0

    def tune(enabled: bool | None = None) -> bool:
        calls.append("malloc")
        return True

    monkeypatch.setattr(kernels, "use_fast_linear", swap)
    monkeypatch.setattr(allocator, "keep_freed_memory", tune)
    sep = Separator.from_spec(
        identity.IDENTITY,
        {"chunk_size": 256},
        tune_malloc=fast,
        fast_kernels=fast,
        device="cpu",
    )
    expected = [] if fast is False else ["malloc", "swap"]
    assert calls == expected
    assert bool(sep.model._forward_pre_hooks) is (fast is False)
    monkeypatch.setenv("SPLIFFT_ONEDNN", "0")
    monkeypatch.setenv("SPLIFFT_MALLOC_TUNING", "0")
    calls.clear()
    Separator.from_spec(identity.IDENTITY, {"chunk_size": 256}, device="cpu")
    assert calls == []  # the settings are the defaults


# Channels-last convolution helpers, against float64 NCHW references.


def nchw64(x: torch.Tensor) -> torch.Tensor:
    return x.double().contiguous()


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Conv2d(24, 40, 1, bias=False),
        lambda: nn.Conv2d(24, 40, 1, bias=True),
        lambda: nn.Conv2d(24, 40, 3, 1, 1, bias=False),
        lambda: nn.Conv2d(24, 24, 3, (2, 1), 1, groups=24, bias=False),
        lambda: nn.Conv2d(24, 40, 1, stride=2, bias=False),  # strided 1×1: a real convolution
    ],
)
def test_conv2d_channels_last_matches_the_float64_convolution(batch: int, make: object) -> None:
    torch.manual_seed(batch)
    conv = make()  # type: ignore[operator]
    x, residual = tensors((batch, 24, 37, 29), (batch, 40, 37, 29))
    with torch.no_grad():
        want = conv.double()(nchw64(x))
        conv.float()
        got = kernels.conv2d(x, conv)  # NCHW in: converted
        assert got.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(got.double(), want, rtol=0, atol=1e-5 * float(want.abs().max()))
        if want.shape == residual.shape:
            summed = kernels.conv2d(x, conv, residual=residual)
            torch.testing.assert_close(
                summed.double(),
                want + residual.double(),
                rtol=0,
                atol=1e-5 * float(want.abs().max()),
            )


@pytest.mark.parametrize("batch", [1, 2])
def test_linear_last_axis_matches_f_linear(batch: int) -> None:
    x, w, residual = tensors((batch, 12, 17, 96), (24, 96), (batch, 12, 17, 24))
    want = F.linear(nchw64(x), w.double())
    got = kernels.linear_last_axis(kernels.channels_last(x), w)
    assert got.is_contiguous(memory_format=torch.channels_last)
    scale = 2e-6 * float(want.abs().max())  # float32 rounding of 96-term sums
    torch.testing.assert_close(got.double(), want, rtol=0, atol=scale)
    summed = kernels.linear_last_axis(x, w, residual=residual)
    torch.testing.assert_close(summed.double(), want + residual.double(), rtol=0, atol=scale)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("silu", [False, True])
def test_instance_norm_is_per_item_and_channel(batch: int, silu: bool) -> None:
    x, gamma, beta = tensors((batch, 16, 23, 41), (16,), (16,))
    x = 3.0 * x + torch.arange(batch * 16.0).view(batch, 16, 1, 1)  # each instance its own mean
    # by hand: mean and biased variance of each (item, channel) over its pixels, in float64
    x64 = x.double()
    mean = x64.mean(dim=(2, 3), keepdim=True)
    var = x64.var(dim=(2, 3), keepdim=True, correction=0)
    want = (x64 - mean) / torch.sqrt(var + 1e-8) * gamma.double().view(1, -1, 1, 1)
    want = want + beta.double().view(1, -1, 1, 1)
    if silu:
        want = want * torch.sigmoid(want)
    with torch.inference_mode():
        got = kernels.instance_norm(x, gamma, beta, 1e-8, silu=silu)
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got.double(), want, rtol=0, atol=2e-5 * float(want.abs().max()))


def test_instance_norm_keeps_autograd() -> None:
    (x,) = tensors((2, 8, 9, 11))
    norm = nn.InstanceNorm2d(8, affine=True, eps=1e-5)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    x.requires_grad_(True)
    loss = kernels.instance_norm(x, norm.weight, norm.bias, norm.eps, silu=True).square().sum()
    got_grad = torch.autograd.grad(loss, x)[0]
    want_grad = torch.autograd.grad(F.silu(norm(x)).square().sum(), x)[0]
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-4, atol=1e-5)
