"""HTDemucs hyperparameters, named as demucs' own `HTDemucs(**kwargs)` names them.

Torch-free: the plugin host imports this to validate manifests. A demucs checkpoint package's
`kwargs` (and an MSST `htdemucs:` yaml section plus its `training` metadata) validate into
`HTDemucsParams` unchanged. Options only training reads (learning rates, weight decay, init
rescaling, CAPE augmentation) are accepted and ignored; options whose inference path we do not
implement (Wiener filtering, `MultiWrap` bands, sparse attention) are refused with a clear error.
"""

from fractions import Fraction
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from splifft_core.models import StftParams
from splifft_core.types import Channels, ChunkSize, ModelOutputStemName, SampleRate


def segment_samples(segment: float, samplerate: int) -> int:
    """demucs' `int(segment * samplerate)`, with `segment` read as the decimal it was written as.

    Official packages store `segment` as `Fraction(39, 5)`; `str(7.8)` gives that same fraction,
    so a float in a manifest reproduces demucs' sample count exactly.
    """
    return int(Fraction(str(segment)) * samplerate)


class _DemucsParams(BaseModel):
    """What both demucs generations share: the sources, the audio and the `ModelParamsLike` view.

    Each subclass declares `segment` (the chunk, in seconds), `nfft` and `bag_weights`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: tuple[ModelOutputStemName, ...] = Field(min_length=1)
    audio_channels: Channels = 2
    samplerate: SampleRate = 44100
    if TYPE_CHECKING:  # fields of both subclasses, declared there to keep their order
        segment: float
        nfft: int
        bag_weights: tuple[tuple[float, ...], ...] | None

    @property
    def num_models(self) -> int:
        return 1 if self.bag_weights is None else len(self.bag_weights)

    @property
    def stft(self) -> StftParams:
        """demucs' `spectro`: a Hann window of `nfft`, hop `nfft // 4`, normalized, centred."""
        return StftParams(n_fft=self.nfft, hop_length=self.nfft // 4, normalized=True)

    # ModelParamsLike
    @property
    def chunk_size(self) -> ChunkSize:
        return segment_samples(self.segment, self.samplerate)

    @property
    def output_stem_names(self) -> tuple[ModelOutputStemName, ...]:
        return self.sources

    @property
    def sample_rate(self) -> SampleRate:
        return self.samplerate


class HTDemucsParams(_DemucsParams):
    """`demucs.htdemucs.HTDemucs` keyword arguments (defaults are demucs' own)."""

    segment: float = Field(default=10.0, gt=0)
    """Training segment in seconds: the chunk the network is built for."""
    use_train_segment: bool = True
    """Shorter inputs are zero-padded on the right to the segment, and the output cropped."""
    # channels
    channels: int = Field(default=48, gt=0)
    channels_time: int | None = Field(default=None, gt=0)
    growth: float = Field(default=2, gt=0)
    # stft
    nfft: int = Field(default=4096, gt=0)
    num_subbands: int = Field(default=1, gt=0)
    """Music-Source-Separation-Training's extension: frequency subbands stacked as channels."""
    wiener_iters: int = 0
    end_iters: int = 0
    wiener_residual: bool = False
    cac: bool = True
    # structure
    depth: int = Field(default=4, gt=0)
    rewrite: bool = True
    multi_freqs: tuple[float, ...] | None = None
    multi_freqs_depth: int = 3
    freq_emb: float = 0.2
    emb_scale: float = 10
    emb_smooth: bool = True
    kernel_size: int = Field(default=8, gt=0)
    time_stride: int = Field(default=2, gt=0)
    stride: int = Field(default=4, gt=0)
    context: int = Field(default=1, ge=0)
    context_enc: int = Field(default=0, ge=0)
    norm_starts: int = 4
    norm_groups: int = Field(default=4, gt=0)
    dconv_mode: int = Field(default=1, ge=0, le=3)
    dconv_depth: int = 2
    dconv_comp: float = Field(default=8, gt=0)
    dconv_init: float = 1e-3
    bottom_channels: int = Field(default=0, ge=0)
    # cross transformer
    t_layers: int = Field(default=5, ge=0)
    t_emb: Literal["sin", "cape", "scaled"] = "sin"
    t_hidden_scale: float = Field(default=4.0, gt=0)
    t_heads: int = Field(default=8, gt=0)
    t_dropout: float = Field(default=0.0, ge=0)
    t_max_positions: int = Field(default=10000, gt=0)
    t_norm_in: bool = True
    t_norm_in_group: bool = False
    t_group_norm: bool = False
    t_norm_first: bool = True
    t_norm_out: bool = True
    t_max_period: float = 10000.0
    t_weight_decay: float = 0.0
    t_lr: float | None = None
    t_layer_scale: bool = True
    t_gelu: bool = True
    t_weight_pos_embed: float = 1.0
    t_sin_random_shift: int = 0
    t_cape_mean_normalize: bool = True
    t_cape_augment: bool = True
    t_cape_glob_loc_scale: tuple[float, float, float] = (5000.0, 1.0, 1.4)
    t_sparse_self_attn: bool = False
    t_sparse_cross_attn: bool = False
    t_mask_type: str = "diag"
    t_mask_random_seed: int = 42
    t_sparse_attn_window: int = 500
    t_global_window: int = 100
    t_sparsity: float = 0.95
    t_auto_sparsity: bool = False
    t_cross_first: bool = False
    rescale: float = 0.1
    # a bag of models (demucs' BagOfModels): same architecture, per-source weights
    bag_weights: tuple[tuple[float, ...], ...] | None = None
    """A row per model, a weight per source: stem `s` is `sum_m w[m][s] out_m[s] / sum_m w[m][s]`.

    `None`: a single model. The bag's state dict prefixes each model's keys with `models.{m}.`.
    """

    @model_validator(mode="after")
    def _check(self) -> "HTDemucsParams":
        if not self.cac:
            raise ValueError(
                "cac=False (masking / Wiener filtering) is not supported; every published "
                "HTDemucs uses cac=True"
            )
        if self.wiener_iters != self.end_iters:
            raise ValueError("wiener_iters must equal end_iters (as demucs asserts)")
        if self.multi_freqs:
            raise ValueError("multi_freqs (MultiWrap frequency bands) is not supported")
        if self.t_sparse_self_attn or self.t_sparse_cross_attn or self.t_auto_sparsity:
            raise ValueError("sparse attention (xformers) is not supported")
        if self.t_sin_random_shift:
            raise ValueError("t_sin_random_shift > 0 randomizes inference; not supported")
        if self.nfft % 4:
            raise ValueError(f"nfft must be a multiple of 4, got {self.nfft}")
        if (self.nfft // 2) % self.num_subbands:
            raise ValueError(f"nfft // 2 must be divisible by num_subbands={self.num_subbands}")
        dim = self.bottom_channels or int(self.channels * self.growth ** (self.depth - 1))
        if self.t_layers and dim % self.t_heads:
            raise ValueError(f"transformer width {dim} is not divisible by t_heads={self.t_heads}")
        if self.t_layers and dim % 4:
            raise ValueError(f"transformer width {dim} must be a multiple of 4 (2D sin embedding)")
        if self.bag_weights is not None:
            if not self.bag_weights:
                raise ValueError("bag_weights must name at least one model")
            for row in self.bag_weights:
                if len(row) != len(self.sources):
                    raise ValueError(
                        f"each bag_weights row needs {len(self.sources)} weights (one per source)"
                    )
            for index, source in enumerate(self.sources):
                if sum(row[index] for row in self.bag_weights) == 0:
                    raise ValueError(f"bag_weights give source {source!r} a total weight of 0")
        return self


class HDemucsParams(_DemucsParams):
    """`demucs.hdemucs.HDemucs` keyword arguments (Hybrid Demucs v3; defaults are demucs')."""

    segment: float = Field(default=40.0, gt=0)
    """Chunk length in seconds (`hdemucs_mmi`'s bag sets 44)."""
    channels: int = Field(default=48, gt=0)
    channels_time: int | None = Field(default=None, gt=0)
    growth: float = Field(default=2, gt=0)
    nfft: int = Field(default=4096, gt=0)
    wiener_iters: int = 0
    end_iters: int = 0
    wiener_residual: bool = False
    cac: bool = True
    depth: int = Field(default=6, gt=0)
    rewrite: bool = True
    hybrid: bool = True
    hybrid_old: bool = False
    multi_freqs: tuple[float, ...] | None = None
    multi_freqs_depth: int = 2
    freq_emb: float = 0.2
    emb_scale: float = 10
    emb_smooth: bool = True
    kernel_size: int = Field(default=8, gt=0)
    time_stride: int = Field(default=2, gt=0)
    stride: int = Field(default=4, gt=0)
    context: int = Field(default=1, ge=0)
    context_enc: int = Field(default=0, ge=0)
    norm_starts: int = 4
    norm_groups: int = Field(default=4, gt=0)
    dconv_mode: int = Field(default=1, ge=0, le=3)
    dconv_depth: int = 2
    dconv_comp: float = Field(default=4, gt=0)
    dconv_attn: int = 4
    dconv_lstm: int = 4
    dconv_init: float = 1e-4
    rescale: float = 0.1
    bag_weights: tuple[tuple[float, ...], ...] | None = None
    """As `HTDemucsParams.bag_weights`."""

    @model_validator(mode="after")
    def _check(self) -> "HDemucsParams":
        if not self.cac:
            raise ValueError("cac=False (masking / Wiener filtering) is not supported")
        if self.hybrid_old and not self.hybrid:
            raise ValueError("hybrid_old needs hybrid=True (as demucs asserts)")
        if self.multi_freqs:
            raise ValueError("multi_freqs (MultiWrap frequency bands) is not supported")
        if self.nfft % 4:
            raise ValueError(f"nfft must be a multiple of 4, got {self.nfft}")
        rows = self.bag_weights
        if rows is not None and (not rows or any(len(r) != len(self.sources) for r in rows)):
            raise ValueError(f"each bag_weights row needs {len(self.sources)} weights")
        return self
