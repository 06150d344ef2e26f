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
