"""MDX-Net hyperparameters (torch-free), in the words of UVR's model-data tables.

UVR's `mdx_model_data` keys map as `mdx_n_fft_scale_set` → `n_fft`, `mdx_dim_f_set` → `dim_f`,
`2 ** mdx_dim_t_set` → `dim_t`, `compensate` → `compensate`; the hop is UVR's fixed 1024 and a
segment of `dim_t` frames is `hop · (dim_t − 1)` samples (`SeperateMDX.initialize_model_settings`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from splifft_core.models import ModelParams
from splifft_core.types import Channels, ChunkSize, Gt0, ModelOutputStemName

UVR_HOP = 1024
"""`SeperateMDX`'s `self.hop`, the same for every MDX-Net model."""
UVR_ZEROED_BINS = 3
"""`run_model` zeroes the three lowest STFT bins before the network (`spek[:, :, :3, :] *= 0`)."""


class MdxNetParams(ModelParams):
    """One MDX-Net ONNX graph: the STFT it expects and what becomes of its output.

    The network maps the spectrum `(batch, 4, dim_f, dim_t)` (channels: left real, left imaginary,
    right real, right imaginary) to the primary stem's spectrum of the same shape.
    """

    chunk_size: ChunkSize = 261120
    """`hop_length · (dim_t − 1)` (UVR's `chunk_size`); filled in from `dim_t` when omitted."""
    output_stem_names: tuple[ModelOutputStemName, ...] = Field(
        default=("vocals",), min_length=1, max_length=1
    )
    """The primary stem (UVR's `primary_stem`, in our names); the secondary is derived."""
    audio_channels: Channels = 2
    """Stereo only: the graph's four input channels are two channels' real and imaginary parts."""
    n_fft: Gt0 = 6144
    """`mdx_n_fft_scale_set`; a periodic Hann window of this length, centred frames."""
    hop_length: Gt0 = UVR_HOP
    dim_f: Gt0 = 2048
    """`mdx_dim_f_set`: the network sees the lowest `dim_f` bins; the rest are zero on output."""
    dim_t: Gt0 = 256
    """Frames per segment, `2 ** mdx_dim_t_set` (the graph's fixed last axis)."""
    compensate: float = Field(default=1.0, gt=0)
    """UVR's volume compensation: the primary stem is the network's output times this."""
    denoise: bool = False
    """UVR's "Standard" denoise: `(net(x) − net(−x)) / 2`, which cancels the output's even
    (input-independent) part."""
    zeroed_bins: int = Field(default=UVR_ZEROED_BINS, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _fill_chunk_size(cls, data: Any) -> Any:
        if isinstance(data, dict) and "chunk_size" not in data:
            hop = int(data.get("hop_length", UVR_HOP))
            dim_t = int(data.get("dim_t", 256))
            data = {**data, "chunk_size": hop * (dim_t - 1)}
        return data

    @model_validator(mode="after")
    def _check(self) -> MdxNetParams:
        if self.audio_channels != 2:
            raise ValueError(f"MDX-Net models are stereo, got audio_channels={self.audio_channels}")
        if self.chunk_size != self.hop_length * (self.dim_t - 1):
            raise ValueError(
                f"chunk_size must be hop_length · (dim_t − 1) = "
                f"{self.hop_length * (self.dim_t - 1)}, got {self.chunk_size}"
            )
        if self.dim_f > self.n_fft // 2 + 1:
            raise ValueError(f"dim_f={self.dim_f} exceeds the {self.n_fft // 2 + 1} STFT bins")
        if self.n_fft < self.hop_length:
            raise ValueError(f"n_fft={self.n_fft} is shorter than the hop {self.hop_length}")
        if self.zeroed_bins > self.dim_f:
            raise ValueError(f"zeroed_bins={self.zeroed_bins} exceeds dim_f={self.dim_f}")
        return self

    @property
    def trim(self) -> int:
        """UVR's `trim = n_fft // 2`: zeros before the track, and what each chunk's edge loses."""
        return self.n_fft // 2
