"""`splifft eval` and `splifft_core.evaluation`: dataset walk, aggregates, JSON, CSV, errors.

The datasets are tiny and built so the scores can be checked by hand: an estimate at half the
reference has SDR 20·log10(2) ≈ 6.0206 dB; reference + an error k dB below it has SDR k dB.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
import splifft_plugin_hpss
import torch

from splifft.cli import main
from splifft_core import evaluation
from splifft_core.errors import AudioError, ConfigError, SplifftError
from splifft_core.evaluation import DatasetError, EvalResult
from splifft_core.plugins import PluginHost

RATE = 8000
HALF_SDR = 20 * math.log10(2)
B_SDRS = {"t1": 10.0, "t2": 20.0, "sub/t3": 40.0}  # stem "b": mean 23.33, median 20


def _write(path: Path, audio: npt.NDArray[Any], rate: int = RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(audio, dtype=np.float32).T, rate, subtype="FLOAT")


def _signal(seed: int, seconds: float = 1.0) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((2, int(seconds * RATE)))).astype(np.float32)


def _with_error(ref: npt.NDArray[np.float32], sdr_db: float, seed: int) -> npt.NDArray[Any]:
    err = _signal(seed + 100).astype(np.float64)
    err *= math.sqrt(np.sum(ref.astype(np.float64) ** 2) / np.sum(err**2) / 10 ** (sdr_db / 10))
    return ref + err


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, Path]:
    """references/ and estimates/ with tracks t1, t2, sub/t3 and stems a, b."""
    refs, ests = tmp_path / "references", tmp_path / "estimates"
    for seed, (track, b_sdr) in enumerate(B_SDRS.items()):
        a, b = _signal(2 * seed), _signal(2 * seed + 1)
        _write(refs / track / "a.wav", a)
        _write(refs / track / "b.wav", b)
        _write(refs / track / "mixture.wav", a + b)
        _write(ests / track / "a.wav", 0.5 * a)
        _write(ests / track / "b.wav", _with_error(b, b_sdr, seed))
    return refs, ests


def test_scores_aggregates_and_track_names(dataset: tuple[Path, Path]) -> None:
    refs, ests = dataset
    seen: list[tuple[int, int, str]] = []
    result = evaluation.evaluate_estimates(
        ests, refs, ["sdr", "si_sdr"], on_track=lambda i, n, t: seen.append((i, n, t))
    )
    assert seen == [(1, 3, "sub/t3"), (2, 3, "t1"), (3, 3, "t2")]
    assert list(result.scores) == ["sub/t3", "t1", "t2"]
    assert result.stems == ["a", "b"]
    for track, b_sdr in B_SDRS.items():
        assert result.scores[track]["a"]["sdr"] == pytest.approx(HALF_SDR, abs=1e-4)
        assert result.scores[track]["a"]["si_sdr"] > 90  # halving is free when scale-invariant
        assert result.scores[track]["b"]["sdr"] == pytest.approx(b_sdr, abs=1e-3)
    mean, median = result.aggregate("mean"), result.aggregate("median")
    assert mean["b"]["sdr"] == pytest.approx(70 / 3, abs=1e-3)
    assert median["b"]["sdr"] == pytest.approx(20.0, abs=1e-3)
    assert mean["a"]["sdr"] == pytest.approx(HALF_SDR, abs=1e-4)


def test_mixture_metric_reads_reference_mixture(dataset: tuple[Path, Path]) -> None:
    refs, ests = dataset
    result = evaluation.evaluate_estimates(ests, refs, ["log_wmse"])
    assert all(math.isfinite(s["log_wmse"]) for t in result.scores.values() for s in t.values())
    (refs / "t2" / "mixture.wav").unlink()
    with pytest.raises(DatasetError, match=r"t2/mixture\.wav: no such file"):
        evaluation.evaluate_estimates(ests, refs, ["log_wmse"])


def test_json_and_csv_outputs(dataset: tuple[Path, Path], tmp_path: Path) -> None:
    refs, ests = dataset
    result = evaluation.evaluate_estimates(ests, refs, ["sdr"])
    result.scores["t1"]["a"]["sdr"] = math.inf  # not valid JSON: becomes null
    json_path = evaluation.write_json(result, tmp_path / "out" / "scores.json")
    data = json.loads(json_path.read_text())
    assert data["metrics"] == ["sdr"]
    assert data["tracks"]["t1"]["a"]["sdr"] is None
    assert data["tracks"]["t2"]["b"]["sdr"] == pytest.approx(20.0, abs=1e-3)
    assert data["aggregates"]["median"]["b"]["sdr"] == pytest.approx(20.0, abs=1e-3)
    assert data["aggregates"]["mean"]["a"]["sdr"] is None  # inf in the mean

    csv_path = tmp_path / "out" / "scores.csv"
    csv_path.write_text("old content\n")
    evaluation.write_csv(result, csv_path)
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == ["kind", "track", "stem", "sdr"]
    assert [r[:3] for r in rows[1:]] == [
        ["track", "sub/t3", "a"],
        ["track", "sub/t3", "b"],
        ["track", "t1", "a"],
        ["track", "t1", "b"],
        ["track", "t2", "a"],
        ["track", "t2", "b"],
        ["mean", "", "a"],
        ["mean", "", "b"],
        ["median", "", "a"],
        ["median", "", "b"],
    ]
    assert float(rows[-1][3]) == pytest.approx(20.0, abs=1e-3)
    assert sorted(p.name for p in csv_path.parent.iterdir()) == ["scores.csv", "scores.json"]


def test_nan_values_are_left_out_of_aggregates() -> None:
    result = EvalResult(metrics=("bss_sdr",))
    result.scores = {
        "x": {"v": {"bss_sdr": math.nan}},
        "y": {"v": {"bss_sdr": 4.0}},
        "z": {"v": {"bss_sdr": 8.0}},
    }
    assert result.aggregate("mean") == {"v": {"bss_sdr": 6.0}}
    assert result.aggregate("median") == {"v": {"bss_sdr": 6.0}}
    assert result.csv_rows()[1] == ["track", "x", "v", ""]


def test_skips_estimates_without_reference(dataset: tuple[Path, Path]) -> None:
    refs, ests = dataset
    _write(ests / "t1" / "vocals.wav", _signal(9))
    _write(ests / "t9" / "a.wav", _signal(9))
    warnings: list[str] = []
    result = evaluation.evaluate_estimates(ests, refs, ["sdr"], warn=warnings.append)
    assert "vocals" not in result.scores["t1"] and "t9" not in result.scores
    assert len(warnings) == 2
    assert any("t1/vocals.wav: no reference" in w for w in warnings)
    assert any("t9: no reference folder" in w for w in warnings)
    assert result.warnings == warnings  # the result carries them too
    assert evaluation.evaluate_estimates(ests, refs, ["sdr"]).warnings == warnings


def test_errors_name_the_file(dataset: tuple[Path, Path], tmp_path: Path) -> None:
    refs, ests = dataset
    with pytest.raises(DatasetError, match="nowhere: no such folder"):
        evaluation.evaluate_estimates(tmp_path / "nowhere", refs, ["sdr"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"empty: no track folder holding a mixture\.wav"):
        evaluation.find_tracks(tmp_path / "empty", need_mixture=True)
    _write(ests / "t1" / "a.wav", _signal(0), rate=16000)
    with pytest.raises(AudioError, match=r"t1/a\.wav: sample rate 16000 Hz"):
        evaluation.evaluate_estimates(ests, refs, ["sdr"])
    with pytest.raises(ConfigError, match="unknown metric sdrr"):
        evaluation.parse_metrics("sdr,sdrr")


class _HalfSeparator:
    """Returns half the mixture as every stem."""

    identifier = "half-test-model"

    def __init__(self, stems: tuple[str, ...]) -> None:
        self.stems = stems
        self.calls: list[int] = []

    def separate(self, audio: torch.Tensor, sample_rate: int) -> dict[str, torch.Tensor]:
        self.calls.append(sample_rate)
        return {stem: 0.5 * audio for stem in self.stems}


def test_model_mode_separates_mixtures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "musdb"
    for i in range(2):
        mix = _signal(i)
        _write(data / "test" / f"song{i}" / "mixture.wav", mix)
        _write(data / "test" / f"song{i}" / "a.wav", 0.5 * mix)  # a perfect estimate
        _write(data / "test" / f"song{i}" / "b.wav", mix)  # half: 6.02 dB
    separator = _HalfSeparator(("a", "b", "c"))
    loaded: list[tuple[str, str | None]] = []

    def fake_load(model: str, *, device: str | None = "auto", **_: Any) -> _HalfSeparator:
        loaded.append((model, device))
        return separator

    monkeypatch.setattr("splifft_core.api.load", fake_load)
    warnings: list[str] = []
    result = evaluation.evaluate_model(
        "half-test-model", data, ["sdr"], device="cpu", warn=warnings.append
    )
    assert loaded == [("half-test-model", "cpu")]
    assert separator.calls == [RATE, RATE]
    assert result.model == "half-test-model"
    assert list(result.scores) == ["test/song0", "test/song1"]
    assert result.scores["test/song0"]["a"]["sdr"] > 90
    assert result.scores["test/song1"]["b"]["sdr"] == pytest.approx(HALF_SDR, abs=1e-4)
    assert warnings == [f"no references for model stem(s) c in {data}"]
    assert result.warnings == warnings and result.to_json()["warnings"] == warnings


def _write_flac(path: Path, audio: npt.NDArray[Any], rate: int = RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(audio, dtype=np.float32).T, rate, subtype="PCM_24")


def test_any_audio_extension_and_loose_files_ignored(tmp_path: Path) -> None:
    """FLAC, upper-case extensions and mixed formats in one track; loose files, hidden files
    and folders, and folders without a mixture are not tracks or stems."""
    data = tmp_path / "examples"
    mix = _signal(0)
    _write_flac(data / "song" / "mixture.flac", mix)
    _write_flac(data / "song" / "vocals.FLAC", 0.5 * mix)
    _write(data / "song" / "accompaniment.wav", 0.5 * mix)
    (data / "song" / "notes.txt").write_text("not audio\n")
    (data / "song" / "._vocals.wav").write_bytes(b"\0\5\26\7 macOS resource fork")
    _write_flac(data / "loose.flac", mix)  # a file next to the track: no mixture, not a track
    _write_flac(data / "stems-only" / "vocals.flac", mix)
    _write_flac(data / ".hidden" / "mixture.flac", mix)
    tracks = evaluation.find_tracks(data, need_mixture=True)
    assert list(tracks) == ["song"]
    files = evaluation._audio_files(tracks["song"])
    assert {k: v.name for k, v in files.items()} == {
        "accompaniment": "accompaniment.wav",
        "mixture": "mixture.flac",
        "vocals": "vocals.FLAC",
    }
    # The track folder itself is a dataset of one track, named after the folder.
    assert list(evaluation.find_tracks(data / "song", need_mixture=True)) == ["song"]


def test_two_files_for_one_stem_is_a_one_line_error(tmp_path: Path) -> None:
    track = tmp_path / "data" / "song"
    _write(track / "mixture.wav", _signal(0))
    _write(track / "vocals.wav", _signal(1))
    _write_flac(track / "vocals.flac", _signal(1))
    with pytest.raises(DatasetError) as caught:
        evaluation.find_tracks(tmp_path / "data", need_mixture=True)
    message = str(caught.value)
    assert message == f"{track}: vocals.flac and vocals.wav are both stem 'vocals'; keep one"
    # Only in a track folder: loose files beside the tracks are not stems of anything.
    (track / "vocals.wav").rename(tmp_path / "data" / "take.wav")
    _write_flac(tmp_path / "data" / "take.flac", _signal(1))
    assert list(evaluation.find_tracks(tmp_path / "data", need_mixture=True)) == ["song"]


def test_model_mode_scores_only_the_stems_both_have(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2-stem model on a 5-stem FLAC track (the layout of examples/song): vocals and
    accompaniment are scored, drums/bass/other are unused and say nothing."""
    track = tmp_path / "song"
    mix = _signal(0)
    _write_flac(track / "mixture.flac", mix)
    for stem in ("vocals", "accompaniment", "drums", "bass", "other"):
        _write_flac(track / f"{stem}.flac", 0.5 * mix)
    separator = _HalfSeparator(("vocals", "accompaniment"))
    monkeypatch.setattr("splifft_core.api.load", lambda model, **_: separator)
    warnings: list[str] = []
    result = evaluation.evaluate_model("two-stems", track, ["sdr"], warn=warnings.append)
    assert list(result.scores) == ["song"]
    assert list(result.scores["song"]) == ["vocals", "accompaniment"]
    assert result.scores["song"]["vocals"]["sdr"] > 90
    assert warnings == []


# --------------------------------------------------------------------------------------------
# the command


def test_cli_estimates_table_json_csv(
    dataset: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refs, ests = dataset
    args = ["eval", "--estimates", str(ests), "--references", str(refs), "--metrics", "sdr"]
    assert main([*args, "--csv", str(tmp_path / "s.csv")]) == 0
    out = capsys.readouterr().out
    for word in ("sub/t3", "t1", "t2", "mean", "median", "sdr", "6.021", "20.000"):
        assert word in out
    assert (tmp_path / "s.csv").read_text().startswith("kind,track,stem,sdr\n")

    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["tracks"]) == {"sub/t3", "t1", "t2"}
    assert data["aggregates"]["mean"]["b"]["sdr"] == pytest.approx(70 / 3, abs=1e-3)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--estimates", "x"], "--estimates and --references go together"),
        (["--estimates", "x", "--references", "y", "data"], "either --estimates"),
        ([], "give a DATASET_DIR"),
        (["data", "--metrics", "sdr,nope"], "unknown metric nope"),
    ],
)
def test_cli_usage_errors(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", *extra]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("splifft: error: ")
    assert message in err


def test_cli_default_model_on_three_tracks(
    plugin_host: Callable[..., PluginHost],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The configured default model (here the weightless HPSS) on a generated 3-track dataset."""
    monkeypatch.setenv("SPLIFFT_DEFAULT_MODEL", "hpss-fitzgerald-median")
    plugin_host(splifft_plugin_hpss)
    rate, n = 44100, 44100
    t = np.arange(n) / rate
    data = tmp_path / "data"
    for k in range(3):
        harmonic = np.tile(0.3 * np.sin(2 * np.pi * (220 + 55 * k) * t), (2, 1))
        percussive = np.zeros((2, n))
        percussive[:, 1000::11025] = 0.8
        _write(data / f"track{k}" / "harmonic.wav", harmonic, rate)
        _write(data / f"track{k}" / "percussive.wav", percussive, rate)
        _write(data / f"track{k}" / "mixture.wav", harmonic + percussive, rate)
    csv_path, metrics = tmp_path / "scores.csv", "sdr,bleedless,fullness"
    assert main(["eval", str(data), "--metrics", metrics, "--csv", str(csv_path)]) == 0
    out = capsys.readouterr().out
    assert "hpss-fitzgerald-median" in out and "track2" in out and "percussive" in out
    rows = list(csv.reader(csv_path.open()))
    assert len(rows) == 1 + 3 * 2 + 2 * 2
    assert main(["eval", str(data), "--metrics", metrics, "--json"]) == 0
    data_json = json.loads(capsys.readouterr().out)
    assert data_json["model"] == "hpss-fitzgerald-median"
    harmonic_sdr = data_json["aggregates"]["mean"]["harmonic"]["sdr"]
    assert harmonic_sdr > data_json["aggregates"]["mean"]["percussive"]["sdr"]


def test_dataset_error_is_a_splifft_error() -> None:
    assert issubclass(DatasetError, SplifftError)


def test_cli_help_names_the_defaults() -> None:
    from splifft.cli import eval as eval_cli
    from splifft_core.metrics import EVAL_METRICS

    assert ",".join(evaluation.DEFAULT_METRICS) == eval_cli.DEFAULT_METRICS_TEXT
    assert all(metric in eval_cli.DESCRIPTION for metric in EVAL_METRICS)
