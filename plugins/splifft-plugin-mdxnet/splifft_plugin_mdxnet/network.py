"""MDX-Net's chunk model: STFT → the ONNX graph (onnxruntime) → ISTFT, as UVR's `run_model`.

One chunk of `hop · (dim_t − 1)` samples gives `dim_t` centred frames of a periodic-Hann STFT
(`n_fft`, hop 1024); the lowest `dim_f` bins, their three lowest zeroed, are laid out as
`(batch, 4, dim_f, dim_t)` (left real, left imaginary, right real, right imaginary) for the
graph; its output, padded with zero bins back to `n_fft // 2 + 1`, is inverted to the chunk's
samples and scaled by `compensate`. Chunking and Hann-weighted overlap-add are the engine's.
The module has no torch parameters: the onnxruntime session is attached by the checkpoint
loader (`splifft_plugin_mdxnet.checkpoint`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from splifft_core import stft as core_stft
from splifft_core.models import StftParams
from splifft_plugin_mdxnet.params import MdxNetParams

if TYPE_CHECKING:
    from pydantic import BaseModel

ONNX_INPUT = "input"
"""The input name of every UVR MDX-Net graph (what UVR and audio-separator feed)."""


def providers(device: torch.device | None = None) -> list[str]:
    """onnxruntime providers: CUDA first when the build has it and the device asks for it."""
    import onnxruntime  # type: ignore[import-untyped]

    available = onnxruntime.get_available_providers()
    wanted = ["CPUExecutionProvider"]
    if (device is None or device.type == "cuda") and "CUDAExecutionProvider" in available:
        wanted.insert(0, "CUDAExecutionProvider")
    return wanted


class MdxNetOnnx(nn.Module):
    """`(batch, 2, chunk_size)` → `(batch, 1, 2, chunk_size)`: the primary stem of each chunk."""

    def __init__(self, params: MdxNetParams) -> None:
        super().__init__()
        self.params = params
        self.session: Any = None
        """The `onnxruntime.InferenceSession`, set by `load_onnx`."""
        self.stft_params = StftParams(n_fft=params.n_fft, hop_length=params.hop_length)
        """UVR's: a periodic Hann window of `n_fft`, centred frames."""
        self.window: Tensor
        self.register_buffer("window", core_stft.make_window(self.stft_params), persistent=False)

    def load_onnx(
        self, path: Path, *, device: torch.device | None = None, threads: int | None = None
    ) -> None:
        """Open the graph at `path` and check that it takes `(batch, 4, dim_f, dim_t)`."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=providers(device)
        )
        inputs = {i.name: i.shape for i in session.get_inputs()}
        p = self.params
        shape = inputs.get(ONNX_INPUT)
        expected = [4, p.dim_f, p.dim_t]
        if shape is None or len(shape) != 4 or not _fits(shape[1:], expected):
            raise ValueError(
                f"{path}: expected an input {ONNX_INPUT!r} of shape (batch, 4, {p.dim_f}, "
                f"{p.dim_t}) (dim_f, dim_t of the model data), got {inputs}"
            )
        self.session = session

    def spectrum(self, audio: Tensor) -> Tensor:
        """`(batch, 2, chunk_size)` → `(batch, 4, dim_f, dim_t)`, its lowest bins zeroed."""
        p = self.params
        spec = core_stft.stft_channels(audio.float(), self.stft_params, self.window, p.dim_f)
        spec = spec.clone()
        spec[:, :, : p.zeroed_bins] = 0
        return spec

    def waveform(self, spec: Tensor) -> Tensor:
        """`(batch, 4, dim_f, dim_t)` → `(batch, 2, chunk_size)`, the missing bins zero."""
        return core_stft.istft_channels(spec, self.stft_params, None, self.window)

    def run(self, spec: Tensor) -> Tensor:
        """The graph on one batch of spectra (numpy at the boundary)."""
        x = np.ascontiguousarray(spec.detach().to("cpu", torch.float32).numpy())
        (out,) = self.session.run(None, {ONNX_INPUT: x})
        return torch.from_numpy(np.asarray(out, dtype=np.float32)).to(spec.device)

    def forward(self, audio: Tensor) -> Tensor:
        if self.session is None:
            raise RuntimeError("MDX-Net: no ONNX graph loaded (load_checkpoint first)")
        p = self.params
        if audio.dim() != 3 or audio.shape[1] != 2 or audio.shape[2] != p.chunk_size:
            raise ValueError(f"MDX-Net takes (batch, 2, {p.chunk_size}), got {tuple(audio.shape)}")
        spec = self.spectrum(audio)
        # UVR's denoise: -net(-x)·0.5 + net(x)·0.5
        pred = self.run(-spec) * -0.5 + self.run(spec) * 0.5 if p.denoise else self.run(spec)
        return (self.waveform(pred) * p.compensate)[:, None]


def _fits(shape: list[Any], expected: list[int]) -> bool:
    """Fixed axes must match; symbolic ones (a name or None) take anything."""
    return all(not isinstance(a, int) or a == e for a, e in zip(shape, expected, strict=True))


def build(params: BaseModel) -> MdxNetOnnx:
    if not isinstance(params, MdxNetParams):
        raise TypeError(f"expected MdxNetParams, got {type(params).__name__}")
    return MdxNetOnnx(params)
