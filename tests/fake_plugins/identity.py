"""An identity architecture: every stem is a fixed gain times the input (waveform archetype)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec


class GainParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chunk_size: int = Field(default=1024, gt=0)
    sample_rate: int = 44100
    audio_channels: int = 2
    stems: tuple[str, ...] = ("vocals",)
    gains: tuple[float, ...] = (1.0,)

    @property
    def output_stem_names(self) -> tuple[str, ...]:
        return self.stems


def build(params: GainParams) -> Any:
    import torch

    class GainNetwork(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gains = torch.nn.Parameter(torch.tensor(params.gains, dtype=torch.float32))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.unsqueeze(1) * self.gains.view(1, -1, 1, 1)

    return GainNetwork()


def select(network: Any, params: GainParams, stems: tuple[str, ...]) -> tuple[Any, tuple[str, ...]]:
    """Stem selection plan: keep only the gains of the requested stems."""
    import torch

    keep = [params.stems.index(s) for s in stems]
    network.gains = torch.nn.Parameter(network.gains.detach()[keep].clone())
    return network, stems


IDENTITY = ArchitectureSpec(
    name="identity",
    params_model=GainParams,
    model_factory="tests.fake_plugins.identity:build",
    archetype="waveform",
    stem_selection="tests.fake_plugins.identity:select",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [IDENTITY]


@hookimpl
def splifft_manifests() -> list[dict[str, Any]]:
    return [
        {
            "identifier": "identity-test-gain",
            "architecture": "identity",
            "plugin": "fake-identity",
            "params": {"chunk_size": 4096, "stems": ["vocals", "drums"], "gains": [0.25, 0.5]},
            "stems": ["vocals", "drums"],
            "sample_rate": 44100,
            "channels": 2,
            "derived_stems": {"instrum": {"plus": ["mixture"], "minus": ["vocals"]}},
            "inference": {"overlap_ratio": 0.5, "batch_size": 2},
        }
    ]
