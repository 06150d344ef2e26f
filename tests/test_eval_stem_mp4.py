"""`splifft eval` on MUSDB18 (compressed) datasets: `<track>.stem.mp4`, stream 0 the mixture and
streams 1..4 drums, bass, other, vocals; and the `accompaniment` reference derived as the sum of
the non-vocal stems.

Every fixture is encoded here with PyAV; the HQ-layout twin of a `.stem.mp4` holds its streams as
decoded, so both layouts must give the same scores.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
import torch

av = pytest.importorskip("av")

from splifft.cli import main  # noqa: E402
from splifft_core import evaluation  # noqa: E402
from splifft_core.errors import AudioError  # noqa: E402
from splifft_core.evaluation import DatasetError  # noqa: E402
from splifft_core.media import read_media  # noqa: E402

RATE = 44100
SECONDS = 3.0
STEMS = ("drums", "bass", "other", "vocals")
METRICS = "sdr,si_sdr,bleedless,fullness"


def _stems(seed: int) -> dict[str, npt.NDArray[np.float32]]:
    """Deterministic stereo stems, `(frames, channels)`: tones plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int((SECONDS + 0.25 * seed) * RATE)) / RATE  # a length per track
    out: dict[str, npt.NDArray[np.float32]] = {}
    for k, stem in enumerate(STEMS):
        freq = 110.0 * (k + 1) + 7 * seed
        left = 0.15 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.standard_normal(t.size)
        right = 0.1 * np.sin(2 * np.pi * 1.5 * freq * t) + 0.02 * rng.standard_normal(t.size)
        out[stem] = np.stack([left, right], axis=1).astype(np.float32)
    return out


def _encode_stem_mp4(path: Path, seed: int, codec: str = "aac") -> Path:
    """A 5-stream `.stem.mp4`: the mixture, then drums, bass, other, vocals."""
    stems = _stems(seed)
    mixture = (0.8 * np.stack(list(stems.values())).sum(axis=0)).astype(np.float32)
    signals = [mixture, *stems.values()]
    path.parent.mkdir(parents=True, exist_ok=True)
    out = av.open(str(path), "w", format="mp4")
    streams = [out.add_stream(codec, rate=RATE, layout="stereo") for _ in signals]
    for sig, stream in zip(signals, streams, strict=True):
        for i in range(0, len(sig), 1024):
            block = np.ascontiguousarray(sig[i : i + 1024].T)
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = RATE, i, Fraction(1, RATE)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    out.close()
    return path


def _write(path: Path, audio: npt.NDArray[Any], subtype: str = "FLOAT") -> None:
    """`audio` is `(frames, channels)`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, RATE, subtype=subtype)


def _decoded(path: Path) -> dict[str, npt.NDArray[np.float32]]:
    """mixture and stems of a `.stem.mp4` as the evaluation decodes them."""
    return {name: read_media(path, stream)[0] for stream, name in enumerate(("mixture", *STEMS))}


def _noisy(audio: npt.NDArray[Any], seed: int, level: float = 0.05) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(1000 + seed)
    return (audio + level * rng.standard_normal(audio.shape)).astype(np.float32)


@pytest.fixture
def musdb(tmp_path: Path) -> dict[str, Path]:
    """`stems/` (two `.stem.mp4` tracks, one nested; AAC and ALAC), `hq/` (their streams as
    wav), `estimates/` (references plus noise, and an accompaniment estimate)."""
    stems_dir, hq, ests = tmp_path / "stems", tmp_path / "hq", tmp_path / "estimates"
    tracks = {"track": ("aac", 1), "test/other song": ("alac", 2)}
    for name, (codec, seed) in tracks.items():
        path = _encode_stem_mp4(stems_dir / f"{name}.stem.mp4", seed, codec)
        decoded = _decoded(path)
        for k, (stem, audio) in enumerate(decoded.items()):
            _write(hq / name / f"{stem}.wav", audio)
            if stem != "mixture":
                _write(ests / name / f"{stem}.wav", _noisy(audio, 10 * seed + k))
        parts = np.stack([decoded[s] for s in ("drums", "bass", "other")]).astype(np.float64)
        accompaniment: npt.NDArray[np.float64] = parts.sum(axis=0)
        _write(ests / name / "accompaniment.wav", _noisy(accompaniment, seed))
    (stems_dir / "._track.stem.mp4").write_bytes(b"\0\5\26\7 macOS resource fork")
    return {"stems": stems_dir, "hq": hq, "estimates": ests}


def _assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert list(a) == list(b)
    for track in a:
        assert list(a[track]) == list(b[track])
        for stem in a[track]:
            for metric, value in a[track][stem].items():
                assert value == pytest.approx(b[track][stem][metric], abs=1e-6), (
                    track,
                    stem,
                    metric,
                )


def test_find_tracks_names_stem_files_and_mixes_layouts(musdb: dict[str, Path]) -> None:
    tracks = evaluation.find_tracks(musdb["stems"], need_mixture=True)
    assert list(tracks) == ["test/other song", "track"]  # the hidden ._track is not a track
    assert tracks["track"] == musdb["stems"] / "track.stem.mp4"
    refs = evaluation._track_references(tracks["track"])
    assert [(name, ref.stream) for name, ref in refs.items()] == [
        ("mixture", 0),
        ("drums", 1),
        ("bass", 2),
        ("other", 3),
        ("vocals", 4),
    ]
    # A folder may hold both layouts; the stem file is not a stem of the folder it is in.
    mixed = musdb["hq"] / "track"
    (musdb["stems"] / "track.stem.mp4").rename(mixed / "extra.stem.mp4")
    assert list(evaluation.find_tracks(musdb["hq"], need_mixture=True)) == [
        "test/other song",
        "track",
        "track/extra",
    ]
    assert "extra.stem" not in evaluation._audio_files(mixed)
    # A .stem.mp4 may be the dataset by itself.
    one = mixed / "extra.stem.mp4"
    assert evaluation.find_tracks(one, need_mixture=True) == {"extra": one}


def test_two_tracks_of_one_name_is_an_error(musdb: dict[str, Path]) -> None:
    _write(musdb["stems"] / "track" / "mixture.wav", np.zeros((100, 2), np.float32))
    with pytest.raises(DatasetError, match="are both track 'track'; keep one"):
        evaluation.find_tracks(musdb["stems"], need_mixture=True)


def test_estimates_score_the_same_against_stem_mp4_and_wav(musdb: dict[str, Path]) -> None:
    metrics = evaluation.parse_metrics(METRICS)
    from_stems = evaluation.evaluate_estimates(musdb["estimates"], musdb["stems"], metrics)
    from_wav = evaluation.evaluate_estimates(musdb["estimates"], musdb["hq"], metrics)
    assert list(from_stems.scores) == ["test/other song", "track"]
    assert list(from_stems.scores["track"]) == ["accompaniment", "bass", "drums", "other", "vocals"]
    _assert_same(from_stems.scores, from_wav.scores)
    for by_stem in from_stems.scores.values():
        for values in by_stem.values():
            assert all(math.isfinite(v) for v in values.values())
            assert 5 < values["sdr"] < 60  # noisy: finite and not trivial
    assert from_stems.warnings == [] and from_wav.warnings == []
    # log_wmse needs the mixture: stream 0.
    wmse_stems = evaluation.evaluate_estimates(musdb["estimates"], musdb["stems"], ["log_wmse"])
    wmse_wav = evaluation.evaluate_estimates(musdb["estimates"], musdb["hq"], ["log_wmse"])
    _assert_same(wmse_stems.scores, wmse_wav.scores)


def test_cli_prints_the_same_scores_for_both_layouts(
    musdb: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = {}
    for layout in ("stems", "hq"):
        args = ["eval", "--estimates", str(musdb["estimates"]), "--references", str(musdb[layout])]
        assert main([*args, "--metrics", METRICS, "-q"]) == 0
        table = capsys.readouterr().out
        assert main([*args, "--metrics", METRICS, "--json", "-q"]) == 0
        outputs[layout] = (table, json.loads(capsys.readouterr().out))
    assert outputs["stems"][0] == outputs["hq"][0]
    assert "track" in outputs["stems"][0] and "accompaniment" in outputs["stems"][0]
    _assert_same(outputs["stems"][1]["tracks"], outputs["hq"][1]["tracks"])
    assert outputs["stems"][1]["aggregates"] == outputs["hq"][1]["aggregates"]


def test_derived_accompaniment_equals_a_hand_made_reference(
    musdb: dict[str, Path], tmp_path: Path
) -> None:
    """drums + bass + other summed by hand in numpy, written as a float64 wav: scoring against
    it is scoring against the derived reference (of the `.stem.mp4` and of the HQ layout)."""
    hand = tmp_path / "hand"
    only = tmp_path / "only-accompaniment"
    for track in ("track", "test/other song"):
        decoded = _decoded(musdb["stems"] / f"{track}.stem.mp4")
        total = decoded["drums"].astype(np.float64)
        total = total + decoded["bass"].astype(np.float64) + decoded["other"].astype(np.float64)
        _write(hand / track / "accompaniment.wav", total, subtype="DOUBLE")
        _write(hand / track / "mixture.wav", decoded["mixture"])
        only.joinpath(track).mkdir(parents=True)
        (musdb["estimates"] / track / "accompaniment.wav").rename(
            only / track / "accompaniment.wav"
        )
    metrics = evaluation.parse_metrics(METRICS)
    expected = evaluation.evaluate_estimates(only, hand, metrics).scores
    assert expected["track"]["accompaniment"]["sdr"] > 5
    for layout in ("stems", "hq"):
        derived = evaluation.evaluate_estimates(only, musdb[layout], metrics)
        _assert_same(derived.scores, expected)
        assert derived.warnings == []
    # An estimate "instrumental" is derived too.
    (only / "track" / "accompaniment.wav").rename(only / "track" / "instrumental.wav")
    derived = evaluation.evaluate_estimates(only, musdb["stems"], metrics)
    assert derived.scores["track"]["instrumental"] == pytest.approx(
        expected["track"]["accompaniment"], abs=1e-6
    )


def test_no_derived_accompaniment_without_vocals(musdb: dict[str, Path]) -> None:
    hq_track = musdb["hq"] / "track"
    (hq_track / "vocals.wav").unlink()
    warnings: list[str] = []
    result = evaluation.evaluate_estimates(
        musdb["estimates"], musdb["hq"], ["sdr"], warn=warnings.append
    )
    assert "accompaniment" not in result.scores["track"]
    assert "accompaniment" in result.scores["test/other song"]
    assert any("track/accompaniment.wav: no reference" in w for w in warnings)


class _NoisySeparator:
    """Returns each stem of the dataset's `.stem.mp4` with noise (it peeks at the references by
    the mixture's length), plus an accompaniment."""

    identifier = "noisy-test-model"

    def __init__(self, stems_by_length: dict[int, dict[str, npt.NDArray[np.float32]]]) -> None:
        self.by_length = stems_by_length

    def separate(self, audio: torch.Tensor, sample_rate: int) -> dict[str, torch.Tensor]:
        stems = self.by_length[audio.shape[-1]]
        out = {s: _noisy(stems[s], k).T for k, s in enumerate(("vocals", "drums"))}
        accompaniment = stems["drums"] + stems["bass"] + stems["other"]
        out["accompaniment"] = _noisy(accompaniment, 7).T
        out["piano"] = stems["other"].T
        return {s: torch.from_numpy(np.ascontiguousarray(a)) for s, a in out.items()}


def test_model_mode_on_stem_mp4_matches_wav(
    musdb: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    by_length = {}
    for track in ("track", "test/other song"):
        decoded = _decoded(musdb["stems"] / f"{track}.stem.mp4")
        by_length[len(decoded["mixture"])] = decoded
    assert len(by_length) == 2
    separator = _NoisySeparator(by_length)
    monkeypatch.setattr("splifft_core.api.load", lambda model, **_: separator)
    results = {}
    for layout in ("stems", "hq"):
        warnings: list[str] = []
        results[layout] = evaluation.evaluate_model(
            "noisy", musdb[layout], ["sdr", "si_sdr"], warn=warnings.append
        )
        assert warnings == [f"no references for model stem(s) piano in {musdb[layout]}"]
    scores = results["stems"].scores
    assert list(scores) == ["test/other song", "track"]
    assert list(scores["track"]) == ["vocals", "drums", "accompaniment"]
    assert all(5 < v["sdr"] < 60 for by_stem in scores.values() for v in by_stem.values())
    _assert_same(scores, results["hq"].scores)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_stem_mp4_is_a_one_line_error(
    musdb: dict[str, Path], damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = musdb["stems"] / "track.stem.mp4"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not an mp4 " * 300)
    with pytest.raises(AudioError, match=r"track\.stem\.mp4: not a readable media file"):
        evaluation.find_tracks(musdb["stems"], need_mixture=True)
    for args in (
        ["eval", str(musdb["stems"]), "-q"],  # fails before any model loads
        ["eval", "--estimates", str(musdb["estimates"]), "--references", str(musdb["stems"])],
    ):
        assert main([*args, "--metrics", "sdr"]) == 1
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("splifft: error: ")
        assert str(path) in err


def test_stem_mp4_with_too_few_streams(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "data" / "short.stem.mp4"
    path.parent.mkdir()
    out = av.open(str(path), "w", format="mp4")
    stream = out.add_stream("aac", rate=RATE, layout="stereo")
    sig = np.zeros((2, 4096), np.float32)
    frame = av.AudioFrame.from_ndarray(sig, format="fltp", layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = RATE, 0, Fraction(1, RATE)
    for packet in [*stream.encode(frame), *stream.encode(None)]:
        out.mux(packet)
    out.close()
    assert main(["eval", str(tmp_path / "data"), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"splifft: error: {path}: 1 audio stream(s); a .stem.mp4 holds the mixture and 4 stems "
        "(drums, bass, other, vocals)"
    )
