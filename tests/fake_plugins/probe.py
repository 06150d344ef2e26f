"""A position- and context-dependent fake network: wrong chunk placement changes its output."""

from __future__ import annotations

from typing import Any

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from tests.fake_plugins.identity import GainParams


def build(params: GainParams) -> Any:
    import torch

    class ProbeNetwork(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gains = torch.nn.Parameter(torch.tensor(params.gains, dtype=torch.float32))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            size = x.shape[-1]
            ramp = torch.linspace(0.5, 1.5, size, device=x.device)
            context = x.abs().mean(dim=-1, keepdim=True)  # depends on the whole chunk
            y = x * ramp + context * torch.cos(torch.arange(size, device=x.device) * 0.01)
            return y.unsqueeze(1) * self.gains.view(1, -1, 1, 1)

    return ProbeNetwork()


PROBE = ArchitectureSpec(
    name="probe", params_model=GainParams, model_factory="tests.fake_plugins.probe:build"
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [PROBE]
