"""Analysis models (pitch, notes, beats): their results, their params contract, and the writers.

An analysis model shares the separators' loop up to the network: the track, mapped to the
model's rate and channels, is cut into chunks; the network maps each `(batch, channels,
chunk_size)` chunk to frame-level activations, `{name: (batch, frames, ...)}`, one frame every
`frame_hop` samples; the engine (`splifft_core.engine.stitch_frames`) keeps each chunk's frames
away from its edges (`chunk_border` frames either side, the network's context) and concatenates
them, so memory is bounded by a chunk while the activations of the track (a few floats per
frame) are kept. The plugin's `decoder` then turns the activations into events (`PitchTrack`,
`Notes`, `Beats`), as its reference code does (peak picking, note creation).

Writers, in the layouts these tools' users know:

- pitch: `pitch.csv`, `time,frequency,confidence` (seconds, Hz, 0–1; CREPE's layout), and
  optionally `pitch.npz` with the activations;
- notes: `notes.mid` (mido) and `notes.csv` in Basic Pitch's layout
  (`start_time_s,end_time_s,pitch_midi,velocity,pitch_bend…`);
- beats: `beats.tsv`, `time<TAB>beat number in the bar` (1: a downbeat; Beat This!'s `.beats`).

Nothing here imports torch; numpy and mido are imported where they are used.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from splifft_core.atomic import write_text_atomic
from splifft_core.types import Channels, ChunkBorder, ChunkSize, FrameHop, SampleRate, Task

if TYPE_CHECKING:
    import numpy as np

ANALYSIS_OUTPUTS: dict[Task, tuple[str, ...]] = {
    "separation": (),
    "pitch": ("pitch.csv",),
    "notes": ("notes.mid", "notes.csv"),
    "beats": ("beats.tsv",),
}
"""The files `splifft run` writes per track for each analysis task."""


@runtime_checkable
class FrameModelParamsLike(Protocol):
    """What the engine needs to know about an analysis model's hyperparameters."""

    @property
    def sample_rate(self) -> SampleRate: ...

    @property
    def audio_channels(self) -> Channels: ...

    @property
    def chunk_size(self) -> ChunkSize:
        """Samples per network call."""
        ...

    @property
    def frame_hop(self) -> FrameHop:
        """Samples between two frames of the activations."""
        ...

    @property
    def chunk_border(self) -> ChunkBorder:
        """Frames dropped at each edge of a chunk's activations (the network's context)."""
        ...

    @property
    def output_names(self) -> tuple[str, ...]:
        """The activations the network returns, e.g. `("pitch", "confidence")`."""
        ...


def frame_count(samples: int, frame_hop: int) -> int:
    """Frames of a track of `samples` samples: one at every multiple of `frame_hop` from 0 up to
    the last sample (a centred STFT's count, `samples // frame_hop + 1`)."""
    return samples // frame_hop + 1


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PitchTrack:
    """A fundamental-frequency curve, one value per frame."""

    time: np.ndarray
    """Seconds, `(frames,)`."""
    frequency: np.ndarray
    """Hz, `(frames,)`."""
    confidence: np.ndarray
    """Voicing confidence in [0, 1], `(frames,)`."""
    activations: np.ndarray | None = None
    """The model's pitch activations `(frames, bins)`, for `pitch.npz`."""


@dataclass(frozen=True)
class NoteEvent:
    """One note: onset and offset in seconds, MIDI pitch, amplitude in [0, 1], pitch bends."""

    start: float
    end: float
    pitch: int
    amplitude: float
    pitch_bends: tuple[int, ...] = ()
    """Per-frame bends in 1/3 semitones (Basic Pitch's), empty when not estimated."""

    @property
    def velocity(self) -> int:
        """MIDI velocity, `round(127 · amplitude)`."""
        return round(127 * self.amplitude)


@dataclass(frozen=True)
class Notes:
    """Note events, and the frame activations they came from (e.g. Basic Pitch's `note`,
    `onset`, `contour` posteriorgrams)."""

    events: tuple[NoteEvent, ...]
    activations: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Beats:
    """Beat and downbeat times in seconds (every downbeat is a beat too)."""

    beats: np.ndarray
    downbeats: np.ndarray
    activations: Mapping[str, np.ndarray] = field(default_factory=dict)


AnalysisResult = PitchTrack | Notes | Beats


# -- writers ------------------------------------------------------------------------------------


def _csv(rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def pitch_csv(track: PitchTrack) -> str:
    """`time,frequency,confidence`, one row per frame (CREPE's layout)."""
    rows: list[Sequence[Any]] = [("time", "frequency", "confidence")]
    rows += [
        (f"{t:.3f}", f"{f:.3f}", f"{c:.6f}")
        for t, f, c in zip(track.time, track.frequency, track.confidence, strict=True)
    ]
    return _csv(rows)


def notes_csv(notes: Notes) -> str:
    """Basic Pitch's CSV: `start_time_s,end_time_s,pitch_midi,velocity,pitch_bend`, the bends
    (when estimated) as further columns."""
    rows: list[Sequence[Any]] = [
        ("start_time_s", "end_time_s", "pitch_midi", "velocity", "pitch_bend")
    ]
    for note in notes.events:
        rows.append((note.start, note.end, note.pitch, note.velocity, *note.pitch_bends))
    return _csv(rows)


def beat_numbers(beats: np.ndarray, downbeats: np.ndarray) -> list[int]:
    """Each beat's number in its bar (1: a downbeat), as Beat This! numbers them: beats count up
    from each downbeat; the pickup beats before the first downbeat count up to the length of
    the first full bar (with fewer than two downbeats, or a pickup as long as that bar, the
    count starts at 2)."""
    import numpy as np

    beats = np.asarray(beats, dtype=np.float64)
    downbeats = np.asarray(downbeats, dtype=np.float64)
    start = 1
    if len(downbeats) >= 2:
        first, second = np.searchsorted(beats, downbeats[:2])
        bar = int(second - first)
        if int(first) < bar:
            start = bar - int(first)
    marks = set(downbeats.tolist())
    numbers: list[int] = []
    counter = start
    for beat in beats.tolist():
        counter = 1 if beat in marks else counter + 1
        numbers.append(counter)
    return numbers


def beats_tsv(result: Beats) -> str:
    """`time<TAB>number` per beat (Beat This!'s `.beats` layout)."""
    numbers = beat_numbers(result.beats, result.downbeats)
    return "".join(f"{t}\t{n}\n" for t, n in zip(result.beats, numbers, strict=True))


def notes_midi(notes: Notes, tempo_bpm: float = 120.0) -> bytes:
    """A type-0 standard MIDI file of the notes on one piano track (mido), pitch bends
    included: ±2 semitones of bend range, Basic Pitch's default."""
    import mido

    ticks_per_beat = 480
    seconds_per_tick = 60.0 / tempo_bpm / ticks_per_beat
    events: list[tuple[int, int, mido.Message]] = []
    for note in notes.events:
        on = round(note.start / seconds_per_tick)
        off = max(on + 1, round(note.end / seconds_per_tick))
        velocity = min(127, max(1, note.velocity))
        events.append((on, 1, mido.Message("note_on", note=note.pitch, velocity=velocity)))
        events.append((off, 0, mido.Message("note_off", note=note.pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    track.append(mido.Message("program_change", program=0, time=0))
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _write_bytes_atomic(path: Path, data: bytes) -> Path:
    from splifft_core.atomic import atomic_open

    with atomic_open(path, "wb") as f:
        f.write(data)
    return path


def write_result(
    result: AnalysisResult, path_for: Callable[[str], Path], *, activations: bool = False
) -> list[Path]:
    """Write `result`'s files, each atomically; returns their paths. `path_for` maps a file
    name (`pitch.csv`, `notes.mid`, `notes.csv`, `beats.tsv`, `<task>.npz`) to its path.

    `activations`: also the frame activations (and the result's arrays) as `<task>.npz`.
    """
    import numpy as np

    def put(name: str, data: str | bytes) -> Path:
        path = path_for(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            return write_text_atomic(path, data)
        return _write_bytes_atomic(path, data)

    written: list[Path] = []
    arrays: dict[str, Any]
    if isinstance(result, PitchTrack):
        written.append(put("pitch.csv", pitch_csv(result)))
        arrays = {} if result.activations is None else {"activations": result.activations}
        arrays |= {"time": result.time, "frequency": result.frequency}
        arrays |= {"confidence": result.confidence}
        name = "pitch.npz"
    elif isinstance(result, Notes):
        written.append(put("notes.mid", notes_midi(result)))
        written.append(put("notes.csv", notes_csv(result)))
        arrays, name = dict(result.activations), "notes.npz"
    else:
        written.append(put("beats.tsv", beats_tsv(result)))
        arrays = dict(result.activations) | {"beats": result.beats}
        arrays |= {"downbeats": result.downbeats}
        name = "beats.npz"
    if activations:
        buffer = io.BytesIO()
        named: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
        np.savez_compressed(buffer, **named)
        written.append(put(name, buffer.getvalue()))
    return written
