"""PESTO's hyperparameters: the harmonic CQT front end, the encoder, the crop and the windowing.

Nothing here imports torch. The CQT kernel widths (which set how much context a frame needs,
hence `chunk_border`) are computed as PESTO's (nnAudio's) `create_cqt_kernels` does.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PestoParams(BaseModel):
    """One PESTO checkpoint's settings (`hcqt_params` and `hparams` of its `.ckpt`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_rate: int = Field(default=16000, gt=0)
    audio_channels: Literal[1] = 1
    chunk_size: int = Field(default=320000, gt=0)
    """Samples per network call (20 s at 16 kHz)."""
    frame_hop: int = Field(default=160, gt=0)
    """CQT hop in samples: PESTO's `int(step_size · sr / 1000 + 0.5)`, 10 ms."""
    chunk_border: int = Field(default=103, ge=0)
    """Frames dropped at each chunk edge: at least half the widest CQT kernel, in frames."""
    output_names: tuple[str, ...] = ("activations", "confidence")
    variable_length: bool = True
    """The network is frame-wise after a convolutional CQT: the last chunk is cut to the frames
    the track still needs (a 60 s track runs 60 s of audio, not 4 × 20 s)."""
    edge_padding: Literal["reflect", "zeros"] = "reflect"
    """What chunks read beyond the track's ends: PESTO's CQT convolutions pad by reflection
    (`padding_mode="reflect"`), so the first and last frames see the track mirrored."""

    # -- harmonic CQT (`hcqt_params`)
    harmonics: tuple[float, ...] = (1.0,)
    fmin: float = Field(default=27.5, gt=0)
    bins_per_semitone: int = Field(default=3, gt=0)
    n_bins: int = Field(default=296, gt=0)
    center_bins: bool = True
    gamma: float = Field(default=0.0, ge=0)

    # -- encoder (`hparams.encoder`, PESTO's `Resnet1d`)
    n_chan_layers: tuple[int, ...] = (40, 30, 30, 10, 3)
    n_prefilt_layers: int = Field(default=2, ge=1)
    prefilt_kernel_size: int = Field(default=15, gt=0)
    residual: bool = True
    output_dim: int = 384
    activation_fn: Literal["leaky", "relu", "silu"] = "leaky"
    a_lrelu: float = 0.3

    # -- crop (`hparams.pitch_shift`) and reduction
    min_steps: int = -16
    max_steps: int = 16
    reduction: Literal["alwa", "argmax", "mean"] = "alwa"
    confidence_head: Literal["classifier", "peak"] = "classifier"
    """`classifier`: PESTO 2's trained voicing classifier (`confidence.*` in the checkpoint);
    `peak`: the highest pitch activation of the frame, for checkpoints without that classifier
    (`mir-1k.ckpt`)."""
    legacy_prefilter_keys: bool = False
    """The checkpoint names its prefilter convolutions `prefilt_layers.{i}.weight` (PESTO 1's
    layout, `mir-1k.ckpt`) instead of `prefilt_layers.{i}.0.weight`."""

    @property
    def n_bins_in(self) -> int:
        """CQT bins the encoder sees after the crop."""
        return self.n_bins - self.max_steps + self.min_steps

    @property
    def channels(self) -> tuple[int, ...]:
        """`n_chan_layers` as `Resnet1d` uses it (a trailing 1 when fewer than five)."""
        return self.n_chan_layers if len(self.n_chan_layers) >= 5 else (*self.n_chan_layers, 1)

    def lowest_bin(self) -> float:
        """The first CQT bin's frequency (Hz) of the first harmonic: `fmin`, lowered by
        `(bins_per_semitone − 1) / 2` bins when `center_bins` (so that the middle bin of each
        semitone sits on the MIDI pitch)."""
        if not self.center_bins:
            return self.fmin
        return self.fmin / 2 ** ((self.bins_per_semitone - 1) / (24 * self.bins_per_semitone))

    def kernel_widths(self) -> tuple[int, ...]:
        """The CQT kernel width (samples, a power of two) of each harmonic, as nnAudio's
        `create_cqt_kernels` computes it: the longest filter, `ceil(Q·sr / (f + γ/α))` at the
        lowest bin, rounded up to a power of two."""
        fmin = self.lowest_bin()
        bins_per_octave = 12 * self.bins_per_semitone
        alpha = 2.0 ** (1.0 / bins_per_octave) - 1.0
        q = 1.0 / alpha
        widths = []
        for h in self.harmonics:
            length = math.ceil(q * self.sample_rate / (h * fmin + self.gamma / alpha))
            widths.append(int(2 ** math.ceil(math.log2(length))))
        return tuple(widths)

    def min_chunk_border(self) -> int:
        """The fewest border frames that give every kept frame its whole CQT kernel: frame j
        reads samples `[j·hop − K/2, j·hop + K/2)`."""
        return math.ceil(max(self.kernel_widths()) / 2 / self.frame_hop)

    @property
    def chunk_hop(self) -> int:
        """Samples between chunk starts: the kept frames of a chunk, `chunk_size // frame_hop +
        1 − 2·chunk_border`, times the hop (a centred CQT gives one frame more than
        `chunk_size / frame_hop`)."""
        return (self.chunk_size // self.frame_hop + 1 - 2 * self.chunk_border) * self.frame_hop

    @model_validator(mode="after")
    def _check(self) -> PestoParams:
        top = self.lowest_bin() * 2 ** ((self.n_bins - 1) / (12 * self.bins_per_semitone))
        if max(self.harmonics) * top > self.sample_rate / 2:
            raise ValueError(
                f"the top CQT bin ({max(self.harmonics) * top:.0f} Hz) is above Nyquist "
                f"({self.sample_rate / 2:.0f} Hz)"
            )
        if self.n_bins_in <= 0:
            raise ValueError("the pitch-shift crop leaves no CQT bins")
        if self.output_dim % 128:
            raise ValueError("output_dim must be 128 · bins_per_semitone")
        needed = self.min_chunk_border()
        if self.chunk_border < needed:
            raise ValueError(
                f"chunk_border {self.chunk_border} frames is less than half the widest CQT "
                f"kernel ({max(self.kernel_widths())} samples): at least {needed} frames"
            )
        widest = max(self.kernel_widths())
        if self.chunk_size <= widest // 2 or self.chunk_hop <= 0:
            raise ValueError(
                f"chunk_size {self.chunk_size} is too short for a border of "
                f"{self.chunk_border} frames and CQT kernels of {widest} samples"
            )
        if len(self.output_names) != 2:
            raise ValueError("output_names: the activations' name, then the confidence's")
        return self
