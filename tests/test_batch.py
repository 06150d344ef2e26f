"""`splifft batch` on one machine: the same files as `splifft run`, bit for bit; resumable; a bad
file fails alone; folders, globs, list files and object storage (fsspec's memory filesystem
standing in for S3) as inputs and outputs."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from splifft.batch import BatchOptions, separate_many
from splifft.cli import main
from splifft_core.plugins import PluginHost

MODEL = "probe-test-a"


@pytest.fixture
def probe_host(plugin_host: Callable[..., PluginHost]) -> PluginHost:
    from tests.fake_plugins import probe, probe_models

    return plugin_host(probe, probe_models)


def tone(seconds: float, rate: int, channels: int, pitch: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(int(pitch))
    wave = 0.3 * np.sin(2 * np.pi * pitch * t) + rng.normal(0, 0.02, t.shape)
    return np.stack([wave * (1 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32)


def make_tracks(root: Path) -> list[Path]:
    """Tracks that take every path of the reader: FLAC and WAV at the model's rate, another
    rate (resampled), mono, an mp3 (FFmpeg), in a subfolder."""
    (root / "disc 2").mkdir(parents=True)
    specs = [
        ("a.flac", 2.0, 44100, 2, 220.0),
        ("b.wav", 1.3, 48000, 2, 330.0),
        ("disc 2/c.flac", 0.7, 44100, 1, 440.0),
        ("disc 2/d.flac", 2.5, 22050, 2, 550.0),
    ]
    paths = []
    for name, seconds, rate, channels, pitch in specs:
        path = root / name
        sf.write(path, tone(seconds, rate, channels, pitch), rate)
        paths.append(path)
    mp3 = root / "e.mp3"
    sf.write(mp3, tone(1.1, 44100, 2, 660.0), 44100, format="MP3")
    paths.append(mp3)
    return paths


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".splifft-batch" not in p.parts and p.name != "splifft-batch.json"
    }


@pytest.mark.parametrize("hold_seconds", [60.0, 1.0])
def test_batch_equals_splifft_run_bit_for_bit(
    probe_host: PluginHost, tmp_path: Path, hold_seconds: float
) -> None:
    inputs = tmp_path / "in"
    make_tracks(inputs)
    assert main(["run", str(inputs), "-m", MODEL, "-o", str(tmp_path / "run"), "-q"]) == 0
    report = separate_many(
        [inputs], tmp_path / "batch", model=MODEL, hold_seconds=hold_seconds
    )  # 1.0: the longer tracks stream through the model's stage, the others are held
    assert (report.done, len(report.skipped), report.failed) == (5, 0, [])
    expected = files_of(tmp_path / "run")
    assert len(expected) == 10
    assert files_of(tmp_path / "batch") == expected
    manifest = json.loads((tmp_path / "batch" / "splifft-batch.json").read_text())
    assert {t["state"] for t in manifest["tracks"]} == {"done"}
    outputs = {o["path"]: o for t in manifest["tracks"] for o in t["outputs"]}
    import hashlib

    for relative, data in expected.items():
        assert outputs[relative]["sha256"] == hashlib.sha256(data).hexdigest()
    assert report.audio_hours == pytest.approx((2.0 + 1.3 + 0.7 + 2.5 + 1.1) / 3600, rel=0.02)


def test_rerun_skips_done_tracks_and_redoes_changed_ones(
    probe_host: PluginHost, tmp_path: Path
) -> None:
    inputs = tmp_path / "in"
    tracks = make_tracks(inputs)
    out = tmp_path / "out"
    first = separate_many([inputs], out, model=MODEL)
    assert first.done == 5
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.flac")}
    again = separate_many([inputs], out, model=MODEL)
    assert (again.done, len(again.skipped)) == (0, 5)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.flac")} == stamps
    # a changed input runs again; so does a track whose stem was deleted
    sf.write(tracks[0], tone(2.0, 44100, 2, 800.0), 44100)
    (out / "disc 2" / "c" / "vocals.flac").unlink()
    stale = out / "a" / ".vocals.flac.dead0000.part"  # what a SIGKILLed run leaves behind
    stale.write_bytes(b"half a stem")
    third = separate_many([inputs], out, model=MODEL)
    assert sorted(Path(r.input).name for r in third.records) == ["a.flac", "c.flac"]
    assert not stale.exists()
    # other settings: every track again
    assert separate_many([inputs], out, model=MODEL, stems=("vocals",)).done == 5


def test_a_bad_file_fails_alone_and_is_retried(
    probe_host: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = tmp_path / "in"
    make_tracks(inputs)
    bad = inputs / "broken.flac"
    good = (inputs / "a.flac").read_bytes()
    bad.write_bytes(good[:2000] + bytes(range(256)) * 40)  # a header, then garbage
    out = tmp_path / "out"
    code = main(["batch", str(inputs), "-o", str(out), "-m", MODEL, "-q"])
    assert code == 1
    err = capsys.readouterr().err
    assert f"{bad}" in err and "5 done, 0 skipped (done before), 1 failed" in err
    manifest = json.loads((out / "splifft-batch.json").read_text())
    (failed,) = [t for t in manifest["tracks"] if t["state"] == "failed"]
    assert failed["input"] == str(bad) and failed["error"].startswith(str(bad))
    assert not (out / "broken").exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    fresh = tmp_path / "never-made"
    assert main(["batch", str(inputs), "-o", str(fresh), "-m", MODEL, "--dry-run"]) == 0
    assert not fresh.exists() and len(capsys.readouterr().out.splitlines()) == 6
    assert main(["batch", str(inputs), "-o", str(out), "-m", MODEL, "--dry-run"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert f"retry\t{bad}" in listed and sum(line.startswith("skip\t") for line in listed) == 5
    bad.write_bytes(good)  # fixed: the rerun retries it and only it
    assert main(["batch", str(inputs), "-o", str(out), "-m", MODEL, "-q"]) == 0
    assert "1 done, 5 skipped" in capsys.readouterr().err


def test_inputs_globs_lists_and_object_storage(probe_host: PluginHost, tmp_path: Path) -> None:
    import fsspec

    inputs = tmp_path / "in"
    tracks = make_tracks(inputs)
    listing = tmp_path / "list.txt"
    listing.write_text(f"# my tracks\n{tracks[0]}\nin/b.wav\n\n")
    table = tmp_path / "list.csv"
    with table.open("w", newline="") as f:
        csv.writer(f).writerows([["title", "path"], ["C", str(tracks[2])]])
    from splifft.batch.locations import collect_inputs

    assert [i.name for i in collect_inputs([str(listing), str(table)])] == [
        "a.flac",
        "b.wav",
        "c.flac",
    ]
    assert [i.name for i in collect_inputs([str(inputs / "**" / "*.flac")])] == [
        "a.flac",
        "c.flac",
        "d.flac",
    ]
    # object storage: the same tracks in fsspec's memory filesystem, in and out
    memory = fsspec.filesystem("memory")
    for track in tracks:
        memory.pipe(f"/bucket/in/{track.relative_to(inputs).as_posix()}", track.read_bytes())
    report = separate_many(["memory://bucket/in/"], "memory://bucket/out", model=MODEL)
    assert (report.done, report.failed) == (5, [])
    local = separate_many([inputs], tmp_path / "local", model=MODEL)
    assert local.done == 5
    expected = files_of(tmp_path / "local")
    stored = {
        p.removeprefix("/bucket/out/"): memory.cat_file(p)
        for p in memory.find("/bucket/out")
        if "/.splifft-batch/" not in p and not p.endswith("splifft-batch.json")
    }
    assert stored == expected
    again = separate_many(["memory://bucket/in/"], "memory://bucket/out", model=MODEL)
    assert (again.done, len(again.skipped)) == (0, 5)


def test_one_line_errors(
    probe_host: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", str(tmp_path / "missing"), "-o", str(tmp_path / "o"), "-m", MODEL]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "*.flac"), "-o", str(tmp_path / "o"), "-m", MODEL]) == 1
    assert "matches no files" in capsys.readouterr().err
    song = tmp_path / "s.flac"
    sf.write(song, tone(0.5, 44100, 2, 300.0), 44100)
    assert main(["batch", str(song), "-o", "nope://x", "-m", MODEL]) == 1
    assert "nope://x" in capsys.readouterr().err
    assert main(["batch", str(song), "-o", str(tmp_path / "o"), "--workers", "2"]) == 1
    assert "apply with --ray" in capsys.readouterr().err
    options = BatchOptions(model=MODEL, filename="{stem}.{ext}")
    twin = tmp_path / "t" / "s.flac"
    twin.parent.mkdir()
    twin.write_bytes(song.read_bytes())
    from splifft_core.errors import OutputError

    with pytest.raises(OutputError, match=r"s.flac and .*t/s.flac would both write"):
        separate_many([song, twin], tmp_path / "o", options)


def test_an_ensemble_preset_runs_as_splifft_run_does(
    probe_host: PluginHost, tmp_path: Path
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    sf.write(inputs / "a.flac", tone(1.5, 44100, 2, 250.0), 44100)
    preset = "ensemble-test-vocals"
    assert main(["run", str(inputs), "-m", preset, "-o", str(tmp_path / "run"), "-q"]) == 0
    assert separate_many([inputs], tmp_path / "batch", model=preset).done == 1
    expected = files_of(tmp_path / "run")
    assert sorted(expected) == ["a/instrum.flac", "a/vocals.flac"]
    assert files_of(tmp_path / "batch") == expected
