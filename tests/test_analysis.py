"""Analysis models in the core (`splifft_core.analysis`, `engine.stitch_frames`, `Analyzer`,
`splifft run` with a pitch model, `--then` chains, `ls --task`, the writers).

The model is the zero-crossing tracker of `tests.fake_plugins.zero_crossings`: its stitched
activations are checked against the same formula computed once on the whole signal in numpy,
the writers against hand-derived files.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from splifft.cli import main
from splifft_core.analysis import (
    Beats,
    NoteEvent,
    Notes,
    PitchTrack,
    beat_numbers,
    beats_tsv,
    notes_csv,
    notes_midi,
    pitch_csv,
)
from splifft_core.engine import TensorSource, plan_frames, stitch_frames
from splifft_core.errors import ConfigError
from splifft_core.plugins import PluginHost
from tests.fake_plugins import identity, zero_crossings

RATE = 8000
HOP = 80


@pytest.fixture
def hosts(plugin_host: Callable[..., PluginHost]) -> PluginHost:
    return plugin_host(identity, zero_crossings)


def crossings_reference(
    x: np.ndarray, params: zero_crossings.CrossingParams
) -> dict[str, np.ndarray]:
    """The tracker's formula on the whole (zero-padded) signal at once, in numpy."""
    hop, k = params.frame_hop, params.context
    frames = len(x) // hop + 1
    padded = np.concatenate([x, np.zeros((frames + 2 * k + 2) * hop - len(x))])
    signs = np.signbit(padded)
    changes = np.concatenate([[signs[0]], signs[1:] != signs[:-1]]).astype(np.float64)
    per_frame = changes[: len(padded) // hop * hop].reshape(-1, hop).sum(1)
    energy = (padded[: len(padded) // hop * hop] ** 2).reshape(-1, hop).mean(1)
    window = np.ones(2 * k + 1)
    crossings = np.convolve(np.concatenate([np.zeros(k), per_frame]), window, "valid")
    level = np.convolve(np.concatenate([np.zeros(k), energy]), window, "valid") / (2 * k + 1)
    return {"crossings": crossings[:frames], "level": level[:frames]}


def tone(seconds: float, freq: float, rate: int = RATE, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t + 0.3)).astype(np.float32)


@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("samples", [2400, 2401, 17_777, 40_000])
def test_stitched_activations_equal_the_whole_signal_formula(batch_size: int, samples: int) -> None:
    params = zero_crossings.CrossingParams()
    rng = np.random.default_rng(samples)
    x = (0.3 * rng.standard_normal(samples)).astype(np.float32)
    network = zero_crossings.build(params).eval()
    acts = stitch_frames(
        network,
        TensorSource(torch.from_numpy(x[None])),
        params,
        batch_size=batch_size,
        device=torch.device("cpu"),
    )
    expected = crossings_reference(x.astype(np.float64), params)
    assert set(acts) == {"crossings", "level"}
    assert len(acts["crossings"]) == samples // HOP + 1
    np.testing.assert_array_equal(acts["crossings"], expected["crossings"])
    np.testing.assert_allclose(acts["level"], expected["level"], rtol=1e-5, atol=1e-7)
    plan = plan_frames(samples, params)
    assert plan.chunk_hop == 2400 - 2 * 4 * HOP and plan.chunks >= samples / plan.chunk_hop


def test_custom_chunk_hop_keeps_every_chunks_inner_frames() -> None:
    """A `chunk_hop` that is not a whole number of frames (Basic Pitch's windows): each chunk's
    inner frames are appended as they are, then cut to `frame_count`."""

    class Drifting(zero_crossings.CrossingParams):
        @property
        def chunk_hop(self) -> int:
            return 1750  # 21.875 frames

        @property
        def lead_padding(self) -> int:
            return 100

        def frame_count(self, samples: int) -> int:
            return samples // HOP

    params = Drifting()
    x = tone(3.0, 220.0)
    network = zero_crossings.build(params).eval()
    acts = stitch_frames(
        network, TensorSource(torch.from_numpy(x[None])), params, batch_size=2,
        device=torch.device("cpu"),
    )  # fmt: skip
    # by hand: chunk i starts at 1750 i − 100; its frames 4 … 25 are kept, in order
    expected = []
    for i in range(plan_frames(len(x), params).chunks):
        start = 1750 * i - 100
        chunk = np.zeros(2400, np.float32)
        lo, hi = max(0, start), min(len(x), start + 2400)
        if hi > lo:
            chunk[lo - start : hi - start] = x[lo:hi]
        out = network(torch.from_numpy(chunk)[None, None])["crossings"][0].numpy()
        expected.append(out[4:26])
    joined = np.concatenate(expected)[: len(x) // HOP]
    np.testing.assert_array_equal(acts["crossings"], joined)


def test_analyzer_tracks_a_tone_and_maps_channels_and_rate(hosts: PluginHost) -> None:
    import splifft

    analyzer = splifft.load_analyzer("zero_crossings-test-tiny", device="cpu")
    assert analyzer.task == "pitch" and analyzer.outputs == ("pitch.csv",)
    stereo = np.stack([tone(2.0, 250.0, 16000), tone(2.0, 250.0, 16000)])
    result = analyzer.analyze(stereo, 16000)  # averaged to mono, resampled to 8 kHz
    assert isinstance(result, PitchTrack)
    inner = result.frequency[10:-10]
    assert np.abs(inner - 250.0).max() <= 250.0 / 14  # one crossing in 14 per window
    np.testing.assert_allclose(result.time, np.arange(len(result.time)) * HOP / RATE)
    assert len(result.time) == 2 * RATE // HOP + 1
    with pytest.raises(ConfigError, match=r"is a pitch model: use splifft\.load_analyzer"):
        splifft.load("zero_crossings-test-tiny")
    with pytest.raises(ConfigError, match=r"separates stems: use splifft\.load"):
        splifft.load_analyzer("identity-test-gain")


def test_run_writes_pitch_csv_and_activations(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = tone(3.0, 400.0)
    song = tmp_path / "vocals.wav"
    sf.write(str(song), x, RATE, subtype="FLOAT")
    out = tmp_path / "out"
    code = main(["run", str(song), "-m", "zero_crossings-test-tiny", "-o", str(out),
                 "--activations", "-q"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.split() == [
        str(out / "vocals" / "pitch.csv"),
        str(out / "vocals" / "pitch.npz"),
    ]
    rows = list(csv.reader((out / "vocals" / "pitch.csv").open()))
    assert rows[0] == ["time", "frequency", "confidence"]
    expected = crossings_reference(x.astype(np.float64), zero_crossings.CrossingParams())
    assert len(rows) - 1 == len(x) // HOP + 1
    freqs = np.array([float(r[1]) for r in rows[1:]])
    np.testing.assert_allclose(freqs, expected["crossings"] * RATE / (2 * 7 * HOP), atol=5e-4)
    assert [float(r[0]) for r in rows[1:4]] == [0.0, 0.01, 0.02]
    saved = np.load(out / "vocals" / "pitch.npz")
    assert set(saved.files) == {"activations", "time", "frequency", "confidence"}
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]


def test_run_refuses_stems_for_analysis_and_reports_bad_input(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    song = tmp_path / "a.wav"
    sf.write(str(song), tone(1.0, 300.0), RATE)
    code = main(["run", str(song), "-m", "zero_crossings-test-tiny", "--stems", "vocals", "-q",
                 "-o", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err == ("splifft: error: --stems applies to separation models; "
                   "zero_crossings-test-tiny is a pitch model")  # fmt: skip
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    code = main(
        ["run", str(bad), "-m", "zero_crossings-test-tiny", "-q", "-o", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith(f"splifft: error: {bad}: ") and "\n" not in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("*.csv"))


def test_then_chain_analyses_a_separated_stem_in_memory(
    hosts: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """identity-test-gain's vocals are 0.25 × the input: the chain's pitch track equals the
    analyzer's on 0.25 × the input (at 44.1 kHz, resampled to the tracker's 8 kHz)."""
    import splifft

    rate = 44100
    x = np.stack([tone(2.0, 300.0, rate), tone(2.0, 300.0, rate, 0.4)], axis=1)
    song = tmp_path / "song.wav"
    sf.write(str(song), x, rate, subtype="FLOAT")
    out = tmp_path / "out"
    code = main(["run", str(song), "-m", "identity-test-gain", "--stems", "vocals", "-o",
                 str(out), "--then", "zero_crossings-test-tiny:vocals", "-q"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (out / "song" / "vocals.flac").exists()
    chained = list(csv.reader((out / "song" / "vocals_pitch.csv").open()))
    direct = splifft.load_analyzer("zero_crossings-test-tiny").analyze(0.25 * x.T, rate)
    assert isinstance(direct, PitchTrack)
    assert chained[0] == ["time", "frequency", "confidence"]
    table = np.array(chained[1:], dtype=np.float64)
    ours = np.array([r.split(",") for r in pitch_csv(direct).splitlines()[1:]], np.float64)
    np.testing.assert_allclose(table, ours, atol=2e-6)  # the stem went through overlap-add
    code = main(["run", str(song), "-m", "identity-test-gain", "--stems", "vocals", "-o",
                 str(out), "--then", "zero_crossings-test-tiny:drums", "-q"])  # fmt: skip
    assert code == 1
    assert "stem 'drums' is not among the stems written (vocals)" in capsys.readouterr().err


def test_ls_task_and_info(hosts: PluginHost, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--task", "pitch", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["identifier"] for r in rows] == ["zero_crossings-test-tiny"]
    assert rows[0]["task"] == "pitch" and rows[0]["outputs"] == ["pitch.csv"]
    assert main(["ls", "--task", "separation", "--json"]) == 0
    assert "zero_crossings-test-tiny" not in capsys.readouterr().out
    assert main(["info", "zero_crossings-test-tiny"]) == 0
    text = capsys.readouterr().out
    assert "task:         pitch" in text and "outputs:      pitch.csv per track" in text
    assert "license:      MIT" in text


def test_manifest_task_rules() -> None:
    from pydantic import ValidationError

    from splifft_core.manifest import Manifest

    base = {"identifier": "x-y-z", "architecture": "x", "sample_rate": 8000, "channels": 1}
    assert Manifest.model_validate({**base, "task": "beats"}).stems == []
    with pytest.raises(ValidationError, match="a separation model needs its stems"):
        Manifest.model_validate(base)
    with pytest.raises(ValidationError, match="a notes model has no stems"):
        Manifest.model_validate({**base, "task": "notes", "stems": ["vocals"]})


# -- writers ------------------------------------------------------------------------------------


def test_beat_numbers_count_bars_and_the_pickup() -> None:
    beats = np.array([0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5])
    downbeats = np.array([1.0, 3.0, 4.0])
    # bars of 4 then 2 beats; the two pickup beats count up to the first bar's 4: 3, 4
    assert beat_numbers(beats, downbeats) == [3, 4, 1, 2, 3, 4, 1, 2, 1, 2]
    # one downbeat only: the count starts at 2 (Beat This!'s rule)
    assert beats_tsv(Beats(beats[:3], downbeats[:1])) == "0.25\t2\n0.5\t3\n1.0\t1\n"
    assert beat_numbers(np.array([0.5, 1.0]), np.array([])) == [2, 3]
    # a pickup as long as the first bar: from 2 as well
    assert beat_numbers(np.arange(6.0), np.array([2.0, 4.0])) == [2, 3, 1, 2, 1, 2]


def test_notes_csv_and_midi_read_back() -> None:
    import mido

    notes = Notes(
        events=(
            NoteEvent(0.5, 1.25, 60, 0.5),
            NoteEvent(0.75, 2.0, 64, 1.0, (0, 1, -2)),
        )
    )
    rows = list(csv.reader(io.StringIO(notes_csv(notes))))
    assert rows == [
        ["start_time_s", "end_time_s", "pitch_midi", "velocity", "pitch_bend"],
        ["0.5", "1.25", "60", "64", ],
        ["0.75", "2.0", "64", "127", "0", "1", "-2"],
    ]  # fmt: skip
    midi = mido.MidiFile(file=io.BytesIO(notes_midi(notes, tempo_bpm=120.0)))
    now, seen = 0.0, []
    for message in midi:  # mido yields delta times in seconds
        now += message.time
        if message.type in ("note_on", "note_off"):
            seen.append((round(now, 6), message.type, message.note, message.velocity))
    assert seen == [
        (0.5, "note_on", 60, 64), (0.75, "note_on", 64, 127),
        (1.25, "note_off", 60, 0), (2.0, "note_off", 64, 0),
    ]  # fmt: skip


def test_variable_length_network_gets_a_cut_last_chunk() -> None:
    """`variable_length`: the last chunk is only as long as the frames it still has to give,
    and the activations are those of full chunks."""

    class Variable(zero_crossings.CrossingParams):
        @property
        def variable_length(self) -> bool:
            return True

    x = (0.3 * np.random.default_rng(5).standard_normal(9000)).astype(np.float32)
    fixed, variable = zero_crossings.CrossingParams(), Variable()
    sizes: list[int] = []
    network = zero_crossings.build(fixed).eval()
    network.register_forward_pre_hook(lambda _m, args: sizes.append(args[0].shape[-1]))
    source = TensorSource(torch.from_numpy(x[None]))
    cpu = torch.device("cpu")
    expected = stitch_frames(network, source, fixed, batch_size=2, device=cpu)
    assert sizes == [2400, 2400, 2400]  # 113 frames, 22 kept per chunk: 6 chunks, 3 calls
    sizes.clear()
    ours = stitch_frames(network, source, variable, batch_size=2, device=cpu)
    # the sixth chunk still needs 113 − 5·22 = 3 frames: (3 + 2·4 + 1) · 80 samples, alone
    plan = plan_frames(len(x), variable)
    assert plan.lengths == (2400,) * 5 + (960,)
    assert sizes == [2400, 2400, 2400, 960]
    for name in expected:
        np.testing.assert_array_equal(ours[name], expected[name])
