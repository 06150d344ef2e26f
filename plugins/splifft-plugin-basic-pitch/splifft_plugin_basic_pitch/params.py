"""Basic Pitch hyperparameters (torch-free).

The values are `basic_pitch/constants.py` and `basic_pitch/inference.py` of `basic-pitch==0.4.0`:
22050 Hz mono, an FFT hop of 256 samples (`FFT_HOP`), windows of `AUDIO_N_SAMPLES` = 2 s − one
hop = 43844 samples giving 172 frames each (`ANNOT_N_FRAMES`), 30 frames of overlap (`run_inference`:
`n_overlapping_frames`), of which `unwrap_output` drops half at each edge. The note-creation
defaults are `predict()`'s.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from splifft_core.types import Channels, ChunkSize, Gt0, SampleRate

OUTPUT_NAMES = ("note", "onset", "contour")


class BasicPitchParams(BaseModel):
    """Basic Pitch's windowing and note creation.

    Windowing, `run_inference`'s: the track gets `lead_padding` (`overlap_len / 2` = 3840) zeros
    before it; windows of `chunk_size` samples start every `chunk_hop` = `chunk_size −
    overlap_len` = 36164 samples; each window's 172 frames lose `chunk_border` = 15 at either
    edge, the rest are concatenated and cut to `floor(samples · 86 / 22050)` frames
    (`frame_count`). A window's 142 kept frames span more than its hop (141.27 frames): Basic
    Pitch's frames drift against the audio by 0.73 frame per window, which its
    `model_frames_to_time` partly undoes (`time_correction_s`). We keep both as published.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_rate: SampleRate = 22050
    audio_channels: Channels = 1
    chunk_size: ChunkSize = 43844
    """`AUDIO_N_SAMPLES`: `AUDIO_SAMPLE_RATE · 2 − FFT_HOP`."""
    frame_hop: Gt0 = 256
    """`FFT_HOP`."""
    chunk_border: int = Field(default=15, ge=0)
    """Half of `run_inference`'s 30 overlapping frames."""
    chunk_hop: Gt0 = 36164
    """`hop_size = AUDIO_N_SAMPLES − overlap_len` with `overlap_len = 30 · FFT_HOP`."""
    lead_padding: int = Field(default=3840, ge=0)
    """`overlap_len / 2` zeros before the track (`get_audio_input`)."""
    output_names: tuple[str, ...] = OUTPUT_NAMES
    note_bins: Gt0 = 88
    """`N_FREQ_BINS_NOTES`: one bin per piano key, MIDI 21 (A0) upwards."""
    contour_bins_per_semitone: Gt0 = 3
    """`CONTOURS_BINS_PER_SEMITONE`: the contour has `3 · note_bins` bins."""
    base_frequency: float = Field(default=27.5, gt=0)
    """`ANNOTATIONS_BASE_FREQUENCY`: the lowest bin, A0."""
    midi_offset: int = 21
    """`MIDI_OFFSET`: the MIDI pitch of note bin 0."""

    # -- note creation (predict() / model_output_to_notes defaults) ----------------------------
    onset_threshold: float = Field(default=0.5, ge=0, le=1)
    frame_threshold: float = Field(default=0.3, ge=0, le=1)
    minimum_note_length_ms: float = Field(default=127.70, ge=0)
    """Notes of at most `round(ms / 1000 · sample_rate / frame_hop)` frames (11) are dropped."""
    minimum_frequency: float | None = Field(default=None, gt=0)
    maximum_frequency: float | None = Field(default=None, gt=0)
    infer_onsets: bool = True
    """Add onsets where the note posteriorgram rises sharply (`get_infered_onsets`)."""
    melodia_trick: bool = True
    """Also make notes from the remaining note energy without an onset."""
    include_pitch_bends: bool = True
    energy_tolerance: Gt0 = 11
    """`energy_tol`: frames below `frame_threshold` that end a note."""
    pitch_bend_tolerance: Gt0 = 25
    """`n_bins_tolerance`: contour bins either side of a note's pitch searched for its bend."""
    time_correction_s: float = 0.0018
    """The constant in `model_frames_to_time`'s per-window time offset ("a magic number")."""

    @model_validator(mode="after")
    def _check(self) -> BasicPitchParams:
        if self.output_names != OUTPUT_NAMES:
            raise ValueError(f"output_names must be {OUTPUT_NAMES}, got {self.output_names}")
        if 2 * self.chunk_border >= self.chunk_frames:
            raise ValueError(
                f"chunk_border={self.chunk_border} leaves no frames of the "
                f"{self.chunk_frames} per chunk"
            )
        return self

    @property
    def chunk_frames(self) -> int:
        """Frames of one window (172, `ANNOT_N_FRAMES`)."""
        return self.chunk_size // self.frame_hop + 1

    @property
    def frames_per_second(self) -> int:
        """`ANNOTATIONS_FPS = AUDIO_SAMPLE_RATE // FFT_HOP` (86, an integer)."""
        return self.sample_rate // self.frame_hop

    @property
    def contour_bins(self) -> int:
        return self.note_bins * self.contour_bins_per_semitone

    @property
    def minimum_note_frames(self) -> int:
        """`predict()`'s `min_note_len`."""
        return round(self.minimum_note_length_ms / 1000 * (self.sample_rate / self.frame_hop))

    def frame_count(self, samples: int) -> int:
        """`unwrap_output`'s cut: `floor(samples · (ANNOTATIONS_FPS / AUDIO_SAMPLE_RATE))`."""
        return math.floor(samples * (self.frames_per_second / self.sample_rate))
