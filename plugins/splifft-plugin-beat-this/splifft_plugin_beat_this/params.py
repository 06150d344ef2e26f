"""Beat This! hyperparameters (torch-free).

The network fields are `beat_this.model.beat_tracker.BeatThis`'s keyword arguments (a checkpoint's
`hyper_parameters`); the front-end fields are `beat_this.preprocessing.LogMelSpect`'s; the
windowing is `beat_this.inference.split_predict_aggregate`'s (chunks of 1500 spectrogram frames,
6 border frames dropped either side, earlier chunks kept where chunks overlap).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class BeatThisParams(BaseModel):
    """The log-mel front end, the BeatThis network and the chunking, in audio samples.

    The reference computes the log-mel spectrogram of the whole track (centred frames: frame `k`
    at sample `k * frame_hop`, reflect padding at the track's edges) and cuts it into chunks of
    `chunk_frames` frames starting every `chunk_frames - 2 * chunk_border` frames (the first one
    `chunk_border` frames before the track, those frames zeros). Here each chunk is audio:
    `chunk_size = (chunk_frames - 1) * frame_hop + n_fft` samples framed without centring, so
    the network's frame `j` is centred at chunk sample `n_fft // 2 + j * frame_hop`;
    `lead_padding = chunk_border * frame_hop + n_fft // 2` zeros before the track put the first
    kept frame (`j = chunk_border` of chunk 0) on track sample 0, and `chunk_hop` is the
    reference's chunk step in samples. Every frame whose window lies inside the track is the
    reference's frame exactly; at the track's edges `edge_padding`, `last_chunk` and the network's
    `frame_positions` reproduce the reference's zero frames and end-aligned last chunk.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_rate: int = Field(default=22050, gt=0)
    audio_channels: Literal[1] = 1
    """Mono: the engine gives the channel mean (the reference's `signal.mean(1)`)."""
    chunk_size: int = Field(default=1499 * 441 + 1024, gt=0)
    """Samples per network call: `chunk_frames` STFT frames without centring (662083 = 1500
    frames, the reference's chunk)."""
    frame_hop: int = Field(default=441, gt=0)
    """STFT hop (`LogMelSpect.hop_length`): 50 frames per second at 22050 Hz."""
    chunk_border: int = Field(default=6, ge=0)
    """Frames dropped at each edge of a chunk's activations (`border_size`)."""
    output_names: tuple[str, ...] = ("beat", "downbeat")
    edge_padding: Literal["reflect"] = "reflect"
    """Beyond the track's ends the chunks read the track mirrored: the reference's centred STFT
    reflects there (frames outside the track are then zeroed by the network, as the
    reference's zero spectrogram frames)."""
    last_chunk: Literal["end_aligned"] = "end_aligned"
    """The reference moves its last chunk back to end `chunk_border` frames past the track's
    last frame, earlier chunks' frames kept where they overlap (`keep_first`)."""

    # the log-mel front end (LogMelSpect)
    n_fft: int = Field(default=1024, gt=0)
    f_min: float = Field(default=30.0, ge=0)
    f_max: float = Field(default=11000.0, gt=0)
    spect_dim: int = Field(default=128, gt=0)
    """Mel bands (`n_mels`; BeatThis's `spect_dim`)."""
    mel_scale: Literal["slaney", "htk"] = "slaney"
    log_multiplier: float = Field(default=1000.0, gt=0)
    """The features are `log1p(log_multiplier * mel)` of the magnitude (power 1) spectrogram,
    normalised by `n_fft ** -0.5` (torchaudio's `normalized="frame_length"`)."""

    # the network (BeatThis)
    transformer_dim: int = Field(default=512, gt=0)
    ff_mult: int = Field(default=4, gt=0)
    n_layers: int = Field(default=6, ge=0)
    head_dim: int = Field(default=32, gt=0)
    stem_dim: int = Field(default=32, gt=0)
    sum_head: bool = True
    """The beat logits are beat + downbeat logits (`SumHead`); `False`: independent (`Head`)."""
    partial_transformers: bool = True
    """A frequency- and a time-directed transformer block before each frontend convolution."""
    rotary_theta: float = Field(default=10000.0, gt=0)
    """The rotary embedding's base (rotary-embedding-torch's default; the frequencies are
    checkpoint entries and are loaded from it)."""

    @model_validator(mode="after")
    def _check(self) -> BeatThisParams:
        if self.output_names != ("beat", "downbeat"):
            raise ValueError("output_names must be ('beat', 'downbeat')")
        extra = self.chunk_size - self.n_fft
        if extra < 0 or extra % self.frame_hop:
            raise ValueError("chunk_size must be n_fft plus a whole number of frame hops")
        if self.chunk_frames <= 2 * self.chunk_border:
            raise ValueError("a chunk must have more than 2 * chunk_border frames")
        if self.spect_dim % 32:
            raise ValueError("spect_dim must be a multiple of 32 (strides 4, 2, 2, 2)")
        if self.transformer_dim % self.head_dim:
            raise ValueError("transformer_dim must be divisible by head_dim")
        if self.head_dim % 2:
            raise ValueError("head_dim must be even (rotary embedding)")
        if self.partial_transformers and self.stem_dim % self.head_dim:
            raise ValueError("stem_dim must be divisible by head_dim with partial transformers")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2 + 1e-9:
            raise ValueError("need 0 <= f_min < f_max <= sample_rate / 2")
        return self

    @property
    def chunk_frames(self) -> int:
        """Spectrogram frames per chunk (the reference's `chunk_size`, 1500)."""
        return (self.chunk_size - self.n_fft) // self.frame_hop + 1

    @property
    def chunk_hop(self) -> int:
        """Samples between chunk starts: `chunk_frames - 2 * chunk_border` frames."""
        return (self.chunk_frames - 2 * self.chunk_border) * self.frame_hop

    @property
    def lead_padding(self) -> int:
        """Zeros before the track: `chunk_border` frames plus half a window."""
        return self.chunk_border * self.frame_hop + self.n_fft // 2

    @property
    def fps(self) -> float:
        """Frames per second (the postprocessor's `fps`, 50)."""
        return self.sample_rate / self.frame_hop

    def frame_count(self, samples: int) -> int:
        """Frames of a track: the centred STFT's count, as the reference's spectrogram has."""
        return samples // self.frame_hop + 1
