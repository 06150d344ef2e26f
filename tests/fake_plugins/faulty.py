"""A misbehaving gain architecture for the reliability tests (waveform archetype).

Every stem is a gain times the input, like `identity`, but the network can also

- poison its first stem with NaN wherever the input is louder than `poison_above` (what broken
  weights or a float16 overflow look like from outside);
- sleep `delay` seconds per forward pass, so a subprocess is still separating when a test sends
  it a signal.

Load it in-process with the `plugin_host` fixture, or in a `python -m splifft` subprocess through
an entry point (`[splifft] faulty = tests.fake_plugins.faulty`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec


class FaultyParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chunk_size: int = Field(default=4096, gt=0)
    sample_rate: int = 44100
    audio_channels: int = 2
    stems: tuple[str, ...] = ("vocals", "other")
    gains: tuple[float, ...] = (1.0, 0.5)
    poison_above: float | None = None
    """The first stem is NaN wherever |input| exceeds this (None: never)."""
    delay: float = Field(default=0.0, ge=0.0)
    """Seconds each forward pass sleeps."""

    @property
    def output_stem_names(self) -> tuple[str, ...]:
        return self.stems


def build(params: FaultyParams) -> Any:
    import time

    import torch

    class FaultyNetwork(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gains = torch.nn.Parameter(torch.tensor(params.gains, dtype=torch.float32))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if params.delay:
                time.sleep(params.delay)
            out = x.unsqueeze(1) * self.gains.view(1, -1, 1, 1)
            if params.poison_above is not None:
                loud = x.abs() > params.poison_above
                out[:, 0] = torch.where(loud, torch.full_like(x, float("nan")), out[:, 0])
            return out

    return FaultyNetwork()


FAULTY = ArchitectureSpec(
    name="faulty",
    params_model=FaultyParams,
    model_factory="tests.fake_plugins.faulty:build",
    archetype="waveform",
)


def _manifest(identifier: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "architecture": "faulty",
        "plugin": "fake-faulty",
        "params": params,
        "stems": ["vocals", "other"],
        "sample_rate": 44100,
        "channels": 2,
        "inference": {"overlap_ratio": 0.5, "batch_size": 2},
    }


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [FAULTY]


@hookimpl
def splifft_manifests() -> list[dict[str, Any]]:
    return [
        _manifest("faulty-test-unity", {}),
        _manifest("faulty-test-nan", {"poison_above": 0.5}),
        _manifest("faulty-test-slow", {"delay": 0.05}),
    ]
