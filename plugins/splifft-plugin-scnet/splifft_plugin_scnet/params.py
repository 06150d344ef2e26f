"""SCNet hyperparameters (torch-free).

Defaults are SCNet's (and Music-Source-Separation-Training's, MSST) base model; MSST's keys map
as `sources` → `output_stem_names`, `nfft` → `n_fft`, `hop_size` → `hop_length`,
`win_size` → `win_length`, `band_SR` → `band_ratios`, `band_stride` → `band_strides`,
`band_kernel` → `band_kernels`, `num_dplayer` → `num_dual_path_layers`.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from splifft_core.models import ModelParams, StftParams
from splifft_core.types import Channels, ChunkSize, FftSize, Gt0


class ScnetParams(ModelParams):
    """SCNet: sparse down/up-sampling of low/mid/high bands around a dual-path RNN."""

    chunk_size: ChunkSize = 485100
    """Samples per chunk; MSST's `audio.chunk_size` (11 s at 44.1 kHz)."""
    audio_channels: Channels = 2
    dims: tuple[Gt0, ...] = Field(default=(4, 32, 64, 128), min_length=2)
    """Channels at each depth; `dims[0]` is the STFT's `2 * audio_channels`."""
    n_fft: FftSize = 4096
    hop_length: Gt0 = 1024
    win_length: Gt0 = 4096
    """The STFT window is rectangular (torch's default, as in SCNet)."""
    normalized: bool = True
    band_ratios: tuple[float, float, float] = (0.175, 0.392, 0.433)
    """Share of the frequency bins in the low, mid and high band."""
    band_strides: tuple[Gt0, Gt0, Gt0] = (1, 4, 16)
    band_kernels: tuple[Gt0, Gt0, Gt0] = (3, 4, 16)
    conv_depths: tuple[int, int, int] = (3, 2, 1)
    """Residual layers of the convolution module for each band (sign ignored, as in SCNet)."""
    compress: float = Field(default=4, gt=0)
    """Channel compression of the convolution module's hidden layer."""
    conv_kernel: Gt0 = 3
    num_dual_path_layers: Gt0 = 6
    expand: Gt0 = 1
    """LSTM hidden size as a multiple of its input size."""

    @model_validator(mode="after")
    def _check(self) -> ScnetParams:
        if self.dims[0] != 2 * self.audio_channels:
            raise ValueError(
                f"dims[0]={self.dims[0]} must be 2 * audio_channels = {2 * self.audio_channels} "
                "(real and imaginary part of each channel)"
            )
        if self.conv_kernel % 2 == 0:
            raise ValueError(f"conv_kernel={self.conv_kernel} must be odd")
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length={self.win_length} exceeds n_fft={self.n_fft}")
        for dim in self.dims[1:]:
            if int(dim / self.compress) < 1:
                raise ValueError(f"compress={self.compress} leaves no hidden channels for {dim}")
        if self.num_dual_path_layers % 2:
            raise ValueError(
                f"num_dual_path_layers={self.num_dual_path_layers} must be even: odd layers "
                "leave the separation net in the frequency domain"
            )
        if any(r <= 0 for r in self.band_ratios):
            raise ValueError(f"band_ratios must be positive, got {self.band_ratios}")
        return self

    @property
    def stft(self) -> StftParams:
        """The network's STFT: a rectangular window of `win_length`, centred."""
        return StftParams(
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window="rectangular",
            normalized=self.normalized,
        )


class ScnetMaskedParams(ScnetParams):
    """SCNet predicting a complex mask of the mixture's spectrum (MSST's `scnet_masked`).

    Its layout adds a learned per-bin embedding added to the input spectrum (`pos_embed_f`) and
    a small mask head (`mask_layer`) after the decoder; its STFT window is a periodic Hann
    window of `n_fft` (so `win_length` must be `n_fft`). The mask head is built for stereo.
    """

    @model_validator(mode="after")
    def _check_masked(self) -> ScnetMaskedParams:
        if self.audio_channels != 2:
            raise ValueError(
                f"audio_channels={self.audio_channels}: scnet_masked's mask head is built for "
                "stereo (4 spectrum channels per stem)"
            )
        if self.win_length != self.n_fft:
            raise ValueError(
                f"win_length={self.win_length} must equal n_fft={self.n_fft}: scnet_masked's "
                "Hann window spans n_fft"
            )
        return self

    @property
    def stft(self) -> StftParams:
        """The network's STFT: a periodic Hann window of `n_fft`, centred."""
        return StftParams(
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window="hann",
            normalized=self.normalized,
        )


class ScnetTranParams(ScnetParams):
    """SCNet with transformers instead of LSTMs in the dual-path layers (MSST's `scnet_tran`).

    MSST's `tran_rotary_embedding_dim` → `rotary_embedding_dim`, `tran_depth` →
    `transformer_depth`, `tran_heads` → `heads`, `tran_dim_head` → `dim_head`; its dropouts
    and `tran_flash_attn` do not change inference. `expand` is unused (kept as MSST accepts it).
    """

    rotary_embedding_dim: Gt0 = 64
    """Features of each head rotated by the rotary position embedding (the first ones)."""
    transformer_depth: Gt0 = 1
    """Transformer layers per path (frequency, time) of each dual-path layer."""
    heads: Gt0 = 8
    dim_head: Gt0 = 64

    @model_validator(mode="after")
    def _check_tran(self) -> ScnetTranParams:
        if self.rotary_embedding_dim % 2:
            raise ValueError(f"rotary_embedding_dim={self.rotary_embedding_dim} must be even")
        if self.rotary_embedding_dim > self.dim_head:
            raise ValueError(
                f"rotary_embedding_dim={self.rotary_embedding_dim} exceeds dim_head={self.dim_head}"
            )
        return self
