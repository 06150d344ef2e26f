"""BS-RoFormer, Mel-Band RoFormer and their conformer variants: hyperparameters (torch-free).

Field names and defaults follow the `model:` section of Music-Source-Separation-Training (MSST)
configs, so an MSST yaml maps one to one. Options that only shape training (dropout, the
multi-resolution STFT loss, gradient checkpointing) are accepted and have no effect at inference.
Options that would change the numbers and that we do not implement are rejected.
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from splifft_core.models import ModelParams, StftParams
from splifft_core.types import Channels, Dropout, FftSize, Ge0, Gt0

DEFAULT_FREQS_PER_BANDS: tuple[int, ...] = (
    *(2,) * 24,
    *(4,) * 12,
    *(12,) * 8,
    *(24,) * 8,
    *(48,) * 8,
    128,
    129,
)
"""The BS-RoFormer paper's 62 bands for `n_fft = 2048` (1025 bins)."""


class _BandSplitParams(ModelParams):
    """Options shared by the roformers and the conformers: the band-split front end, the mask
    estimators and the STFT. `output_stem_names` has one name per mask estimator."""

    dim: Gt0
    depth: Gt0
    stereo: bool = False
    num_stems: Gt0 | None = None
    """Must equal `len(output_stem_names)` when given."""
    dim_head: Gt0 = 64
    heads: Gt0 = 8
    attn_dropout: Dropout = 0.0
    ff_dropout: Dropout = 0.0
    flash_attn: bool = True
    """Accepted; attention always runs through `scaled_dot_product_attention`."""
    sage_attention: bool = False
    """Accepted; SageAttention approximates the same attention, which we compute exactly."""
    dim_freqs_in: Gt0 = 1025
    """Unused by the reference code either; kept so MSST configs validate."""
    stft_n_fft: FftSize = 2048
    stft_hop_length: Gt0 = 512
    stft_win_length: Gt0 = 2048
    stft_normalized: bool = False
    zero_dc: bool = True
    """Zero the DC bin of every separated spectrogram (as MSST does)."""
    mask_estimator_depth: Gt0 = 2
    mlp_expansion_factor: Gt0 = 4
    skip_connection: bool = False
    """Add the outputs of all previous blocks to each block's input (MSST's variant)."""
    use_torch_checkpoint: bool = False
    """Training-only (gradient checkpointing)."""
    multi_stft_resolution_loss_weight: float = 1.0
    multi_stft_resolutions_window_sizes: tuple[Gt0, ...] = (4096, 2048, 1024, 512, 256)
    multi_stft_hop_size: Gt0 = 147
    multi_stft_normalized: bool = False

    @property
    def audio_channels(self) -> Channels:
        return 2 if self.stereo else 1

    @property
    def stems(self) -> int:
        return len(self.output_stem_names)

    @property
    def num_freqs(self) -> int:
        """Bins of the one-sided STFT."""
        return self.stft_n_fft // 2 + 1

    @property
    def stft(self) -> StftParams:
        """The network's STFT: a periodic Hann window of `stft_win_length`, centred."""
        return StftParams(
            n_fft=self.stft_n_fft,
            hop_length=self.stft_hop_length,
            win_length=self.stft_win_length,
            normalized=self.stft_normalized,
        )

    def _check_common(self) -> None:
        if self.num_stems is not None and self.num_stems != len(self.output_stem_names):
            raise ValueError(
                f"num_stems={self.num_stems} but {len(self.output_stem_names)} output stem names "
                f"were given: {list(self.output_stem_names)}"
            )
        if len(set(self.output_stem_names)) != len(self.output_stem_names):
            raise ValueError(f"output stem names must be unique: {list(self.output_stem_names)}")
        if self.stft_win_length > self.stft_n_fft:
            raise ValueError(
                f"stft_win_length={self.stft_win_length} exceeds stft_n_fft={self.stft_n_fft}"
            )


class _RoformerParams(_BandSplitParams):
    """Options shared by both roformers: axial transformers."""

    time_transformer_depth: Ge0 = 2
    freq_transformer_depth: Ge0 = 2
    linear_transformer_depth: Ge0 = 0
    use_pope: bool = False
    """Polar position embeddings (PoPE, Gopalakrishnan et al., 2025) instead of rotary ones in
    the time and frequency attention, as MSST's `use_pope` (`PoPE-pytorch` 0.2): magnitudes
    `softplus(q)`, `softplus(k)`, phases from the position, plus a learned per-head key bias."""


def _check_freqs_per_bands(freqs_per_bands: tuple[int, ...], num_freqs: int, n_fft: int) -> None:
    if len(freqs_per_bands) < 2:
        raise ValueError("freqs_per_bands needs at least two bands")
    if sum(freqs_per_bands) != num_freqs:
        raise ValueError(
            f"freqs_per_bands sums to {sum(freqs_per_bands)}, but stft_n_fft="
            f"{n_fft} gives {num_freqs} frequency bins"
        )


class BSRoformerParams(_RoformerParams):
    """BS-RoFormer (Lu et al., 2023): fixed, contiguous frequency bands."""

    freqs_per_bands: tuple[Gt0, ...] = DEFAULT_FREQS_PER_BANDS
    mask_estimator_refiner_depth: Ge0 = 0
    """unwa's "large v2" mask head (splifft 0.0.9's `axial_refiner_large_v2`, 4 in unwa's
    checkpoint): this many axial time + frequency transformer layers (8 heads of 64, whatever
    `heads` / `dim_head`) and an RMSNorm in each stem's mask estimator, before its MLPs.
    0: MSST's plain mask estimator. Not an MSST option."""

    @model_validator(mode="after")
    def _check(self) -> BSRoformerParams:
        self._check_common()
        _check_freqs_per_bands(self.freqs_per_bands, self.num_freqs, self.stft_n_fft)
        return self


class BSRoformerHyperAceParams(BSRoformerParams):
    """BS-RoFormer with unwa's HyperACE mask heads: each stem's per-band MLP mask plus the
    residual of a convolutional segmentation network (HyperACE) over the whole grid."""

    hyperace_version: Literal[1, 2]
    """1: the first release; 2: band-axis downsampling and TFC-TDF blocks in the upsampling head."""
    num_hyperedges: Gt0 | None = None
    """Hyperedges of the hypergraphs; `None`: 16 for v1, 32 for v2."""
    hyperace_heads: Gt0 = 8
    """Heads of the hyperedge matching (they must divide 256, the hypergraph's width)."""

    @property
    def hyperedges(self) -> int:
        if self.num_hyperedges is not None:
            return self.num_hyperedges
        return 16 if self.hyperace_version == 1 else 32

    @model_validator(mode="after")
    def _check_hyperace(self) -> BSRoformerHyperAceParams:
        if self.mask_estimator_refiner_depth or self.use_pope:
            raise ValueError(
                "the HyperACE heads take neither mask_estimator_refiner_depth nor PoPE"
            )
        if not self.stereo:
            raise ValueError("the HyperACE heads predict 4 values per bin: they need stereo=true")
        if 256 % self.hyperace_heads:
            raise ValueError(f"hyperace_heads={self.hyperace_heads} does not divide 256")
        return self


class MelRoformerParams(_RoformerParams):
    """Mel-Band RoFormer (Wang et al., 2023): overlapping bands from a mel filter bank."""

    num_bands: Gt0 = 60
    mask_estimator_depth: Gt0 = 1
    """MSST's mel variant puts `depth` hidden layers in each mask MLP (BS-RoFormer: `depth - 1`)."""
    match_input_audio_length: bool = False
    """Accepted; the output always has the input's length."""

    @model_validator(mode="after")
    def _check(self) -> MelRoformerParams:
        self._check_common()
        if self.num_bands < 2:
            raise ValueError("num_bands needs at least two bands")
        return self


class _ConformerParams(_BandSplitParams):
    """Options shared by both conformers (MSST `bs_conformer`, `mel_band_conformer`): axial
    conformer blocks (half feed-forward, attention, depthwise convolution, half feed-forward)."""

    time_conformer_depth: Ge0 = 2
    freq_conformer_depth: Ge0 = 2
    linear_conformer_depth: Ge0 = 0
    """Linear-attention transformer layers before each block's time conformer."""
    ff_mult: Gt0 = 4
    """Hidden width of the conformer feed-forwards, in multiples of `dim`."""
    conv_expansion_factor: Gt0 = 2
    conv_kernel_size: Gt0 = 31
    """Width of the depthwise convolution along the attended axis; odd."""
    conv_dropout: Dropout = 0.0
    """Training-only; MSST's shipped conformer configs carry it."""

    def _check_conformer(self) -> None:
        self._check_common()
        if self.conv_kernel_size % 2 == 0:
            raise ValueError(f"conv_kernel_size must be odd, got {self.conv_kernel_size}")


class BSConformerParams(_ConformerParams):
    """BS-Conformer: BS-RoFormer's fixed, contiguous bands with conformer blocks."""

    freqs_per_bands: tuple[Gt0, ...] = DEFAULT_FREQS_PER_BANDS

    @model_validator(mode="after")
    def _check(self) -> BSConformerParams:
        self._check_conformer()
        _check_freqs_per_bands(self.freqs_per_bands, self.num_freqs, self.stft_n_fft)
        return self


class MelConformerParams(_ConformerParams):
    """Mel-Band Conformer: Mel-Band RoFormer's overlapping mel bands with conformer blocks."""

    num_bands: Gt0 = 60
    mask_estimator_depth: Gt0 = 1
    """Layers of each mask MLP (unlike Mel-Band RoFormer, no extra layer)."""
    match_input_audio_length: bool = False
    """Accepted; the output always has the input's length."""

    @model_validator(mode="after")
    def _check(self) -> MelConformerParams:
        self._check_conformer()
        if self.num_bands < 2:
            raise ValueError("num_bands needs at least two bands")
        return self
