"""An analysis architecture for the core's tests: a zero-crossing pitch tracker (task `pitch`).

The network counts sign changes in a window of `2 · context + 1` frames around each frame (so a
chunk's first and last `context + 1` frames lack context: `chunk_border`) and reports the
mean level there; the decoder turns crossings into Hz (`crossings · rate / (2 · window)`). Its
numbers are easy to compute another way, on the whole signal, in numpy.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec


class CrossingParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_rate: int = 8000
    audio_channels: int = 1
    frame_hop: int = 80
    context: int = Field(default=3, ge=1)
    chunk_size: int = 2400
    gain: float = 1.0
    """A learnable scale on the level output (so a checkpoint can change something)."""

    @property
    def chunk_border(self) -> int:
        # the window's frames, plus the sample before a frame that its first change looks at
        return self.context + 1

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("crossings", "level")


def build(params: CrossingParams) -> Any:
    import torch

    class Crossings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gain = torch.nn.Parameter(torch.tensor(params.gain))

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            hop, k = params.frame_hop, params.context
            mono = x.mean(dim=1)  # (b, t)
            signs = torch.signbit(mono)
            changes = (signs[:, 1:] != signs[:, :-1]).float()  # change between t-1 and t
            changes = torch.nn.functional.pad(changes, (1, 0))
            frames = x.shape[-1] // hop
            per_frame = changes[:, : frames * hop].reshape(-1, frames, hop).sum(-1)
            energy = (mono[:, : frames * hop] ** 2).reshape(-1, frames, hop).mean(-1)
            window = torch.ones(1, 1, 2 * k + 1)
            crossings = torch.nn.functional.conv1d(per_frame[:, None], window, padding=k)[:, 0]
            level = torch.nn.functional.conv1d(energy[:, None], window, padding=k)[:, 0]
            return {"crossings": crossings, "level": self.gain * level / (2 * k + 1)}

    return Crossings()


def decode(activations: dict[str, Any], params: CrossingParams) -> Any:
    import numpy as np

    from splifft_core.analysis import PitchTrack

    window = (2 * params.context + 1) * params.frame_hop
    crossings = activations["crossings"]
    frames = len(crossings)
    return PitchTrack(
        time=np.arange(frames) * params.frame_hop / params.sample_rate,
        frequency=crossings * params.sample_rate / (2 * window),
        confidence=np.clip(activations["level"] * 10, 0, 1),
        activations=np.stack([crossings, activations["level"]], axis=1),
    )


SPEC = ArchitectureSpec(
    name="zero_crossings",
    params_model=CrossingParams,
    model_factory="tests.fake_plugins.zero_crossings:build",
    task="pitch",
    decoder="tests.fake_plugins.zero_crossings:decode",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC]


@hookimpl
def splifft_manifests() -> list[dict[str, Any]]:
    return [
        {
            "identifier": "zero_crossings-test-tiny",
            "architecture": "zero_crossings",
            "plugin": "fake-crossings",
            "task": "pitch",
            "params": {"chunk_size": 2400, "frame_hop": 80, "context": 3},
            "sample_rate": 8000,
            "channels": 1,
            "license": "MIT",
            "inference": {"batch_size": 2},
        }
    ]
