"""Basic Pitch against the reference package's own output (`basic-pitch==0.4.0`).

Goldens: `fixtures/make_basic_pitch_fixtures.py` ran `basic_pitch.inference.predict(path,
model_or_model_path=nmp.onnx)` with its defaults on `fixtures/basic_pitch_melody.flac` (12 s,
22050 Hz mono: seven of Basic Pitch's windows) and kept its `model_output` posteriorgrams, its
note events and `save_note_events`' CSV.

The real weights, `basic_pitch/saved_models/icassp_2022/nmp.onnx` of basic-pitch 0.4.0's wheel,
come through `tests.real_weights` (`pip download`, cached per machine; offline, those tests
skip). The decoder tests run on the goldens alone.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from splifft_plugin_basic_pitch.checkpoint import load_checkpoint
from splifft_plugin_basic_pitch.decode import decode
from splifft_plugin_basic_pitch.network import BasicPitchOnnx, build
from splifft_plugin_basic_pitch.params import BasicPitchParams

from splifft_core.analysis import NoteEvent, Notes, notes_csv
from splifft_core.engine import TensorSource, stitch_frames
from tests.real_weights import package_file

FIXTURES = Path(__file__).resolve().parent / "fixtures"
AUDIO = FIXTURES / "basic_pitch_melody.flac"
REFERENCE = FIXTURES / "basic_pitch_reference.npz"
REFERENCE_CSV = FIXTURES / "basic_pitch_reference.csv"

BASIC_PITCH = ("basic-pitch", "0.4.0")
ONNX_MEMBER = "basic_pitch/saved_models/icassp_2022/nmp.onnx"
ONNX_SHA256 = "2c3c1d144bfa61ad236e92e169c13535c880469a12a047d4e73451f2c059a0ec"

QUANTUM = 0.5 / 65535
"""The golden posteriorgrams are uint16 of `round(x · 65535)`: at most this far off."""
TOLERANCE = 1e-4
"""Our posteriorgrams against the reference's."""
NAMES = ("note", "onset", "contour")
PARAMS = BasicPitchParams()


@dataclass(frozen=True)
class ReferenceNote:
    start: float
    end: float
    pitch: int
    amplitude: float
    bends: tuple[int, ...]

    @property
    def velocity(self) -> int:
        """`save_note_events`' `int(np.round(127 * amplitude))` of the float32 amplitude."""
        return int(np.round(127 * np.float32(self.amplitude)))


def track() -> np.ndarray:
    data, rate = sf.read(str(AUDIO), dtype="float32")
    assert rate == PARAMS.sample_rate and data.ndim == 1
    return np.asarray(data, dtype=np.float32)


def reference_posteriorgrams() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {name: data[name].astype(np.float64) / 65535 for name in NAMES}


def reference_notes() -> list[ReferenceNote]:
    with np.load(REFERENCE) as data:
        ends = np.cumsum(data["bend_counts"])
        starts = ends - data["bend_counts"]
        return [
            ReferenceNote(
                float(data["start"][i]),
                float(data["end"][i]),
                int(data["pitch"][i]),
                float(data["amplitude"][i]),
                tuple(int(b) for b in data["bends"][starts[i] : ends[i]]),
            )
            for i in range(len(data["start"]))
        ]


def assert_same_notes(events: tuple[NoteEvent, ...], amplitude_tolerance: float) -> None:
    expected = reference_notes()
    assert len(events) == len(expected)
    for i, (got, want) in enumerate(zip(events, expected, strict=True)):
        assert got.pitch == want.pitch, i
        assert abs(got.start - want.start) <= 1e-6, (i, got.start, want.start)
        assert abs(got.end - want.end) <= 1e-6, (i, got.end, want.end)
        assert abs(got.amplitude - want.amplitude) <= amplitude_tolerance, i
        assert got.velocity == want.velocity, i
        assert got.pitch_bends == want.bends, i


@pytest.fixture(scope="module")
def network() -> BasicPitchOnnx:
    onnx = package_file(*BASIC_PITCH, ONNX_MEMBER, ONNX_SHA256)
    net = build(PARAMS)
    load_checkpoint(net, PARAMS, [onnx])
    return net


@pytest.fixture(scope="module")
def activations(network: BasicPitchOnnx) -> dict[str, np.ndarray]:
    """The engine's stitching of our network over the track."""
    source = TensorSource(torch.from_numpy(track())[None])
    return stitch_frames(network, source, PARAMS, batch_size=3, device=torch.device("cpu"))


def test_fixture_covers_several_windows() -> None:
    audio = track()
    windows = -(-(len(audio) + PARAMS.lead_padding) // PARAMS.chunk_hop)
    assert windows >= 6
    reference = reference_posteriorgrams()
    assert reference["note"].shape == (PARAMS.frame_count(len(audio)), 88)
    assert reference["contour"].shape == (PARAMS.frame_count(len(audio)), 264)
    assert len(reference_notes()) >= 10


def test_windows_match_reference_windowing(network: BasicPitchOnnx) -> None:
    """Basic Pitch's windows, as `get_audio_input` / `unwrap_output` cut them, give the
    reference's posteriorgrams, and the engine's rule reproduces those windows."""
    audio = track()
    lead = np.zeros(PARAMS.lead_padding, np.float32)
    padded = np.concatenate([lead, audio])
    windows = []
    for start in range(0, len(padded), PARAMS.chunk_hop):  # window_audio_file
        window = padded[start : start + PARAMS.chunk_size]
        windows.append(np.pad(window, (0, PARAMS.chunk_size - len(window))))
    batch = torch.from_numpy(np.stack(windows)[:, None])
    out = network(batch)
    reference = reference_posteriorgrams()
    border = PARAMS.chunk_border
    for name in NAMES:
        value = out[name].numpy()
        assert value.shape[:2] == (len(windows), PARAMS.chunk_frames)
        unwrapped = value[:, border:-border].reshape(-1, value.shape[-1])
        unwrapped = unwrapped[: PARAMS.frame_count(len(audio))]
        error = np.abs(unwrapped - reference[name]).max()
        assert error <= TOLERANCE, (name, error)
        assert error <= QUANTUM + 1e-6, (name, error)  # in practice: the same floats


def test_engine_posteriorgrams_match_reference(activations: dict[str, np.ndarray]) -> None:
    reference = reference_posteriorgrams()
    assert set(activations) == set(NAMES)
    for name in NAMES:
        assert activations[name].shape == reference[name].shape, name
        assert activations[name].dtype == np.float32
        error = np.abs(activations[name] - reference[name]).max()
        assert error <= TOLERANCE, (name, error)


def test_engine_notes_match_reference(activations: dict[str, np.ndarray]) -> None:
    notes = decode(activations, PARAMS)
    assert_same_notes(notes.events, amplitude_tolerance=1e-6)
    assert set(notes.activations) == set(NAMES)


def test_decoder_on_reference_posteriorgrams() -> None:
    """The note creation alone, on the golden posteriorgrams (no weights needed)."""
    golden = {k: v.astype(np.float32) for k, v in reference_posteriorgrams().items()}
    notes = decode(golden, PARAMS)
    assert_same_notes(notes.events, amplitude_tolerance=2 * QUANTUM)
    assert any(e.pitch_bends and max(e.pitch_bends) >= 2 for e in notes.events)  # the vibrato


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_notes_csv_matches_save_note_events() -> None:
    """`splifft_core.analysis.notes_csv` writes the rows of Basic Pitch's `save_note_events`
    for the same events (its `csv.writer` ends lines with CRLF, ours with LF)."""
    expected_bytes = REFERENCE_CSV.read_bytes()
    events = tuple(
        NoteEvent(n.start, n.end, n.pitch, n.amplitude, n.bends) for n in reference_notes()
    )
    ours = notes_csv(Notes(events=events))
    assert _rows(ours) == _rows(expected_bytes.decode())
    assert ours == expected_bytes.decode().replace("\r\n", "\n")


def test_engine_notes_csv_matches_reference(activations: dict[str, np.ndarray]) -> None:
    ours = notes_csv(decode(activations, PARAMS))
    assert ours == REFERENCE_CSV.read_bytes().decode().replace("\r\n", "\n")


def test_analyzer_end_to_end(tmp_path: Path) -> None:
    """The core's analyzer (spec, loader, engine, decoder, writers) on the file."""
    analyzer_module = pytest.importorskip("splifft_core.analyzer")
    from splifft_plugin_basic_pitch import SPEC

    onnx = package_file(*BASIC_PITCH, ONNX_MEMBER, ONNX_SHA256)
    analyzer = analyzer_module.Analyzer.from_spec(SPEC, PARAMS, onnx, batch_size=2)
    result = analyzer.analyze(track()[None], PARAMS.sample_rate)
    assert isinstance(result, Notes)
    assert_same_notes(result.events, amplitude_tolerance=1e-6)
    written = analyzer.analyze_file(AUDIO, tmp_path)
    [csv_path] = [p for p in written if p.name == "notes.csv"]
    assert csv_path.read_text() == REFERENCE_CSV.read_bytes().decode().replace("\r\n", "\n")
