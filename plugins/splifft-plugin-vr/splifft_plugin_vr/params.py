"""VR Architecture hyperparameters (torch-free).

A model is a network (`network`, `arch_size`, `nout`, `nout_lstm`) over a multi-band
spectrogram whose layout is one of UVR's model-param files (`band_layout`, e.g. `4band_v3`),
shipped in our own layout in `data/band_params.json` (regenerate with `scripts/make_vr_tables.py`).
The inference options are audio-separator's `vr_*` options.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from splifft_core.models import ModelParams
from splifft_core.types import ChunkSize, ModelOutputStemName

NON_ACCOMPANIMENT_STEMS = frozenset(
    {"Vocals", "Other", "Bass", "Drums", "Guitar", "Piano", "Synth", "Strings", "Woodwinds",
     "Brass", "Wind Inst"}
)  # fmt: skip
"""UVR's primary stems whose aggression is applied inverted (`NON_ACCOM_STEMS`)."""
ASPP_ARCH_SIZES = (31191, 33966, 123821, 123812, 129605, 537238, 537227)
"""UVR's `nn_arch_size` keys of the cascaded ASPP networks (`nets.py`)."""
LSTM_ARCH_SIZES = (56817, 218409)
"""UVR's `nn_arch_size` keys of the newer cascaded LSTM networks (`nets_new.py`, VR 5.1)."""


class Band(BaseModel):
    """One band of a UVR model-param file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sr: int = Field(gt=0)
    hl: int = Field(gt=0)
    """Hop length."""
    n_fft: int = Field(gt=0)
    crop_start: int
    crop_stop: int
    hpf_start: int = -1
    hpf_stop: int = -1
    lpf_start: int = -1
    lpf_stop: int = -1
    res_type: str = "polyphase"
    """librosa's resampler into this band (from the band above)."""
    convert_channels: str | None = None
    """VR 5.1 networks' per-band channel transform (`mid_side`, `mid_side_c`, `stereo_n`)."""


class BandLayout(BaseModel):
    """A UVR model-param file: the bands, lowest first, and how they combine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bins: int = Field(gt=0)
    sr: int = Field(gt=0)
    pre_filter_start: int = -1
    pre_filter_stop: int = -1
    mid_side: bool = False
    mid_side_b: bool = False
    mid_side_b2: bool = False
    stereo_w: bool = False
    stereo_n: bool = False
    reverse: bool = False
    aggr_correction: dict[str, float] | None = None
    bands: tuple[Band, ...] = Field(min_length=1)


@cache
def band_layouts() -> dict[str, BandLayout]:
    """Every layout UVR ships, by its file name (without `.json`)."""
    text = resources.files("splifft_plugin_vr").joinpath("data/band_params.json").read_text()
    return {name: BandLayout.model_validate(raw) for name, raw in json.loads(text).items()}


class VrParams(ModelParams):
    """A VR Architecture model: stereo in, UVR's primary and secondary stem out."""

    chunk_size: ChunkSize = 1_323_000
    """Samples per chunk (30 s at 44.1 kHz); each chunk runs the whole VR pipeline (UVR runs it
    on the whole track), so the spectrogram's max normalization is per chunk."""
    output_stem_names: tuple[ModelOutputStemName, ...] = Field(
        default=("instrum", "vocals"), min_length=2, max_length=2
    )
    """The primary stem (the mask's), then the secondary (the mixture minus it)."""
    band_layout: str = "4band_v3"
    """UVR's model-param file (`vr_model_param`)."""
    network: Literal["cascaded_aspp", "cascaded_lstm"] = "cascaded_aspp"
    """`nets.CascadedASPPNet` or `nets_new.CascadedNet` (VR 5.1, `nout`/`nout_lstm`)."""
    arch_size: int = 123821
    """UVR's `nn_arch_size` (the checkpoint size in KiB it is nearest to): the ASPP network's
    capacity and depth, or `218409` for a 5.1 network with `nout=64`."""
    nout: int = Field(default=32, gt=0)
    nout_lstm: int = Field(default=128, gt=0)
    uvr_primary_stem: str = "Instrumental"
    """UVR's name of the primary stem; a non-accompaniment one inverts the aggression."""
    window_size: int = Field(default=512, gt=0)
    """Spectrogram frames per network call (`vr_window_size`: 320, 512, 1024)."""
    aggression: int = Field(default=5, ge=-100, le=100)
    """`vr_aggression`: the mask is raised to `1 + aggression/50` (a third of it below the
    second band's crop, UVR's `split_bin`)."""
    tta: bool = False
    """`vr_enable_tta`: average with a second pass shifted by half a window."""
    high_end_process: bool = False
    """`vr_high_end_process`: mirror the bins above the model's range back into the output."""
    post_process: bool = False
    """`vr_enable_post_process`: `merge_artifacts`, frames whose mask exceeds the threshold."""
    post_process_threshold: float = Field(default=0.2, ge=0, le=1)
    """`vr_post_process_threshold`."""
    merge_resampler: Literal["sinc_fastest", "polyphase"] = "sinc_fastest"
    """How the bands' waves are upsampled to the next band's rate when they are summed back:
    UVR's `wav_resolution`, libsamplerate's `sinc_fastest` on Windows and Linux (and in
    audio-separator), librosa's `polyphase` on Apple silicon."""

    @property
    def audio_channels(self) -> int:
        return 2

    @property
    def layout(self) -> BandLayout:
        return band_layouts()[self.band_layout]

    @property
    def is_v51(self) -> bool:
        return self.network == "cascaded_lstm"

    @property
    def offset(self) -> int:
        """Frames cropped from each side of a network window."""
        return 64 if self.is_v51 else 128

    @model_validator(mode="after")
    def _check(self) -> VrParams:
        layouts = band_layouts()
        if self.band_layout not in layouts:
            raise ValueError(f"unknown band_layout {self.band_layout!r} (one of UVR's modelparams)")
        if self.sample_rate != layouts[self.band_layout].sr:
            raise ValueError(
                f"sample_rate={self.sample_rate} differs from {self.band_layout}'s "
                f"{layouts[self.band_layout].sr}"
            )
        sizes = LSTM_ARCH_SIZES if self.is_v51 else ASPP_ARCH_SIZES
        if not self.is_v51 and self.arch_size not in sizes:
            raise ValueError(
                f"arch_size={self.arch_size}: a cascaded_aspp network is one of {sizes}"
            )
        if self.window_size <= 2 * self.offset:
            raise ValueError(
                f"window_size={self.window_size} must exceed twice the network's offset "
                f"({self.offset} frames)"
            )
        return self
