"""Basic Pitch's network: the published ONNX graph (`nmp.onnx`) run by onnxruntime.

The graph holds the whole model of the paper, its front end included (harmonic CQT stacking,
the note/onset/contour heads); it maps `(batch, 43844, 1)` float32 audio to three sigmoid
posteriorgrams, `(batch, 172, 88)` note and onset and `(batch, 172, 264)` contour, which
Basic Pitch reads by output name (`inference.Model.predict`). This module wraps an
`onnxruntime.InferenceSession` in a `torch.nn.Module` with the engine's contract:
`(batch, 1, chunk_size)` in, `{"note", "onset", "contour"}` `(batch, frames, bins)` out. Tensors
cross to numpy at the boundary; onnxruntime runs on the CPU whatever the input's device, and the
outputs come back on the input's device. The module has no torch parameters: the session is
attached by the checkpoint loader (`splifft_plugin_basic_pitch.checkpoint`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from splifft_plugin_basic_pitch.params import BasicPitchParams

if TYPE_CHECKING:
    from pydantic import BaseModel

ONNX_INPUT = "serving_default_input_2:0"
ONNX_OUTPUTS: dict[str, str] = {
    "note": "StatefulPartitionedCall:1",
    "onset": "StatefulPartitionedCall:2",
    "contour": "StatefulPartitionedCall:0",
}
"""Our activation name → the graph's output (Basic Pitch's own mapping)."""


class BasicPitchOnnx(nn.Module):
    """`(batch, 1, chunk_size)` → `{"note", "onset", "contour"}`, `(batch, frames, bins)`."""

    def __init__(self, params: BasicPitchParams) -> None:
        super().__init__()
        self.params = params
        self.session: Any = None
        """The `onnxruntime.InferenceSession`, set by `load_onnx`."""

    def load_onnx(self, path: Path, *, threads: int | None = None) -> None:
        """Open the graph at `path` on onnxruntime's CPU provider and check its signature."""
        import onnxruntime  # type: ignore[import-untyped]

        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        inputs = {i.name: i.shape for i in session.get_inputs()}
        outputs = {o.name: o.shape for o in session.get_outputs()}
        p = self.params
        if list(inputs) != [ONNX_INPUT] or inputs[ONNX_INPUT][1:] != [p.chunk_size, 1]:
            raise ValueError(
                f"{path}: expected one input {ONNX_INPUT!r} of shape (batch, {p.chunk_size}, 1), "
                f"got {inputs}"
            )
        bins = {"note": p.note_bins, "onset": p.note_bins, "contour": p.contour_bins}
        for name, onnx_name in ONNX_OUTPUTS.items():
            shape = outputs.get(onnx_name)
            if shape is None or shape[1:] != [p.chunk_frames, bins[name]]:
                raise ValueError(
                    f"{path}: expected output {onnx_name!r} ({name}) of shape (batch, "
                    f"{p.chunk_frames}, {bins[name]}), got {outputs}"
                )
        self.session = session

    def forward(self, audio: Tensor) -> dict[str, Tensor]:
        if self.session is None:
            raise RuntimeError("Basic Pitch: no ONNX graph loaded (load_checkpoint first)")
        if audio.dim() != 3 or audio.shape[1] != 1 or audio.shape[2] != self.params.chunk_size:
            raise ValueError(
                f"Basic Pitch takes (batch, 1, {self.params.chunk_size}), got {tuple(audio.shape)}"
            )
        x = np.ascontiguousarray(audio.detach().to("cpu", torch.float32).numpy()[:, 0, :, None])
        names = list(ONNX_OUTPUTS)
        values = self.session.run([ONNX_OUTPUTS[n] for n in names], {ONNX_INPUT: x})
        return {
            name: torch.from_numpy(np.asarray(value, dtype=np.float32)).to(audio.device)
            for name, value in zip(names, values, strict=True)
        }


def build(params: BaseModel) -> BasicPitchOnnx:
    if not isinstance(params, BasicPitchParams):
        raise TypeError(f"expected BasicPitchParams, got {type(params).__name__}")
    return BasicPitchOnnx(params)
