"""`EnsembleSeparator`: members streamed in lockstep equal the offline ensemble of their outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import splifft
from splifft.cli import main
from splifft_core.config import InferenceConfig
from splifft_core.engine import TensorSource
from splifft_core.ensemble import ENSEMBLE_TYPES, SPECTRAL_TYPES, WAVE_TYPES, ensemble
from splifft_core.ensemble_run import EnsembleSeparator, SpectralStream
from splifft_core.errors import ConfigError
from splifft_core.plugins import PluginHost
from splifft_core.separator import Separator
from tests.fake_plugins.probe import PROBE


def member(
    gains: list[float],
    stems: list[str],
    chunk: int,
    batch: int = 1,
    rate: int = 44100,
    channels: int = 2,
) -> Separator:
    return Separator.from_spec(
        PROBE,
        {
            "chunk_size": chunk,
            "stems": stems,
            "gains": gains,
            "sample_rate": rate,
            "audio_channels": channels,
        },
        None,
        inference=InferenceConfig(overlap_ratio=0.5, batch_size=batch),
        device="cpu",
    )


def mix(length: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / 44100
    tone = 0.3 * torch.sin(2 * torch.pi * 440 * t) + 0.2 * torch.sin(2 * torch.pi * 97 * t)
    return torch.stack([tone, 0.5 * tone.roll(300)]) + 0.05 * torch.randn(2, length, generator=gen)


MEMBERS = [
    ([1.0, -0.5], ["vocals", "instrumental"], 2048, 1),
    ([0.7, 0.9], ["vocals", "instrum"], 3000, 3),
    ([1.3, 0.2], ["accompaniment", "vocals"], 1500, 2),
]


@pytest.mark.parametrize("kind", [t for t in ENSEMBLE_TYPES if t in WAVE_TYPES + SPECTRAL_TYPES])
@pytest.mark.parametrize("length", [30_000, 5_000, 700])
def test_streamed_equals_offline_on_the_members_outputs(kind: str, length: int) -> None:
    members = [member(*m) for m in MEMBERS]
    audio = mix(length, seed=length)
    weights = [1.0, 2.0, 1.0]
    ens = EnsembleSeparator.build(members, kind, weights)
    assert ens.stems == ("vocals", "instrum")
    got = ens.separate(audio, sample_rate=44100)
    outs = [m.separate(audio, sample_rate=44100) for m in members]
    names = [
        {"vocals": "vocals", "instrum": s[1] if s[1] != "vocals" else s[0]} for _, s, *_ in MEMBERS
    ]
    for stem in ens.stems:
        expected = ensemble(
            kind, [o[n[stem]].numpy() for o, n in zip(outs, names, strict=True)], weights
        )
        assert got[stem].shape == expected.shape
        scale = float(np.abs(expected).max())
        # UVR's types keep whole hops only: a track shorter than one hop is silent
        assert scale > 0.05 or (kind.startswith("uvr_") and length < 1024)
        assert float(np.abs(got[stem].numpy() - expected).max()) <= 1e-5 * max(scale, 1e-3)


def test_spectral_stream_any_block_sizes() -> None:
    """Blocks of 1 to 5000 samples give the offline spectral ensemble of the whole arrays."""
    rng = np.random.default_rng(0)
    waves = rng.standard_normal((3, 2, 12_345)).astype(np.float32)
    for kind in SPECTRAL_TYPES:
        expected = ensemble(kind, waves, [1, 2, 1])
        stream = SpectralStream(kind, [1, 2, 1], 2, waves.shape[-1])
        parts, at = [], 0
        for size in [1, 7, 1023, 1024, 5000, 2048, 3, 100000]:
            block = waves[..., at : at + size]
            at += block.shape[-1]
            parts.append(stream.push(block, at >= waves.shape[-1]))
            if at >= waves.shape[-1]:
                break
        got = np.concatenate(parts, -1)
        assert got.shape == expected.shape
        assert float(np.abs(got - expected).max()) <= 1e-6


def test_members_at_other_rates_and_channels() -> None:
    """A 22.05 kHz member and a mono member run on their own sources; the result is near the
    offline ensemble of their outputs resampled (soxr streaming vs whole: tiny differences)."""
    a = member([1.0, -0.5], ["vocals", "instrum"], 2048)
    b = member([0.8, 0.3], ["vocals", "instrum"], 1024, rate=22050)
    c = member([0.6, 0.6], ["vocals", "instrum"], 2048, channels=1)
    audio = mix(20_000)
    ens = EnsembleSeparator.build([a, b, c], "avg_wave")
    assert (ens.sample_rate, ens.channels) == (44100, 2)
    got = ens.separate(audio, sample_rate=44100)["vocals"]
    parts = [m.separate(audio, sample_rate=44100)["vocals"] for m in (a, b, c)]
    parts[2] = parts[2].expand(2, -1) if parts[2].shape[0] == 1 else parts[2]
    expected = torch.stack(parts).mean(0)
    assert got.shape == expected.shape
    assert float((got - expected)[:, 200:-200].abs().max()) < 2e-3 * float(expected.abs().max())


def test_stream_memory_is_blocks_not_the_track() -> None:
    """Blocks come out as the members produce them, not once at the end."""
    members = [member(*m) for m in MEMBERS[:2]]
    ens = EnsembleSeparator.build(members, "avg_fft")
    offsets = [o for o, _ in ens.stream(TensorSource(mix(60_000)))]
    assert len(offsets) > 10 and offsets[0] == 0


def test_refusals() -> None:
    a = member([1.0], ["vocals"], 2048)
    b = member([1.0], ["drums"], 2048)
    with pytest.raises(ConfigError, match="no stem in common"):
        EnsembleSeparator.build([a, b], "avg_wave")
    with pytest.raises(ConfigError, match="at least two"):
        EnsembleSeparator.build([a], "avg_wave")
    with pytest.raises(ConfigError, match="whole track"):
        EnsembleSeparator.build([a, a], "ensemble_wav")
    with pytest.raises(ConfigError, match=r"'drums' is not given by"):
        EnsembleSeparator.build([a, a], "avg_wave", stems=["drums"])


# -- the command line and presets ---------------------------------------------------------------


@pytest.fixture
def probe_host(plugin_host: Callable[..., PluginHost]) -> PluginHost:
    from tests.fake_plugins import probe, probe_models

    return plugin_host(probe, probe_models)


def write_song(path: Path, seconds: float = 1.5) -> Path:
    sf.write(path, mix(int(seconds * 44100)).numpy().T, 44100, subtype="FLOAT")
    return path


@pytest.mark.parametrize("kind", ["avg_wave", "max_fft"])
def test_run_ensemble_equals_splifft_ensemble_of_the_members(
    probe_host: PluginHost, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    song = write_song(tmp_path / "song.wav")
    wav = ["--format", "wav", "--bit-depth", "32", "-q"]
    for name in ("a", "c"):
        assert (
            main(["run", str(song), "-m", f"probe-test-{name}", "-o", str(tmp_path / name), *wav])
            == 0
        )
    args = ["run", str(song), "-m", "probe-test-a", "-m", "probe-test-c", "--ensemble", kind]
    assert main([*args, "--weights", "2,1", "-o", str(tmp_path / "ens"), *wav]) == 0
    for stem, names in {
        "vocals": ("vocals", "vocals"),
        "instrum": ("instrumental", "instrum"),
    }.items():
        parts = [str(tmp_path / m / "song" / f"{n}.wav") for m, n in zip("ac", names, strict=True)]
        out = tmp_path / f"offline_{stem}.wav"
        assert main(["ensemble", *parts, "--type", kind, "--weights", "2,1", "-o", str(out)]) == 0
        offline, _ = sf.read(out)
        streamed, _ = sf.read(tmp_path / "ens" / "song" / f"{stem}.wav")
        assert streamed.shape == offline.shape
        assert np.abs(streamed - offline).max() <= 1e-5 * np.abs(offline).max()


def test_a_preset_runs_by_its_identifier(
    probe_host: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    song = write_song(tmp_path / "song.wav")
    assert (
        main(["run", str(song), "-m", "ensemble-test-vocals", "-o", str(tmp_path / "p"), "-q"]) == 0
    )
    assert sorted(p.name for p in (tmp_path / "p" / "song").iterdir()) == [
        "instrum.flac",
        "vocals.flac",
    ]
    ens = splifft.load_ensemble("ensemble-test-vocals", device="cpu")
    assert (ens.kind, ens.weights, ens.identifier) == (
        "avg_fft",
        (2.0, 1.0),
        "ensemble-test-vocals",
    )
    listed = json.loads(_stdout(capsys, ["ls", "--json"]))
    (row,) = [r for r in listed if r["identifier"] == "ensemble-test-vocals"]
    assert row["plugin_installed"] and row["stems"] == ["vocals", "instrum"]
    info = _stdout(capsys, ["info", "ensemble-test-vocals"])
    assert "probe-test-a (weight 2)" in info and "avg_fft" in info
    with pytest.raises(ConfigError, match="load_ensemble"):
        splifft.load("ensemble-test-vocals")


def _stdout(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    capsys.readouterr()
    assert main(args) == 0
    return capsys.readouterr().out


def test_mixed_rates_through_files(probe_host: PluginHost, tmp_path: Path) -> None:
    """A 32 kHz member (its own resampled source on disk) with a 44.1 kHz one."""
    song = write_song(tmp_path / "song.wav", 2.0)
    args = [
        "run",
        str(song),
        "-m",
        "probe-test-a",
        "-m",
        "probe-test-b",
        "--ensemble",
        "median_wave",
    ]
    assert main([*args, "-o", str(tmp_path / "o"), "--stems", "vocals,instrum", "-q"]) == 0
    vocals, rate = sf.read(tmp_path / "o" / "song" / "vocals.flac")
    assert rate == 44100 and vocals.shape == (88200, 2)


def test_run_ensemble_errors(
    probe_host: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    song = write_song(tmp_path / "song.wav", 0.2)
    cases = [
        (["-m", "probe-test-a", "-m", "probe-test-c"], "--ensemble TYPE"),
        (["-m", "probe-test-a", "--ensemble", "avg_wave"], "two or more models"),
        (["-m", "probe-test-a", "--weights", "1,2"], "--weights applies to ensembles"),
        (
            [
                "-m",
                "probe-test-a",
                "-m",
                "probe-test-c",
                "--ensemble",
                "avg_wave",
                "--weights",
                "1,x",
            ],
            "expected numbers",
        ),
        (["-m", "probe-test-a", "-m", "probe-test-c", "--ensemble", "ensemble_wav"], "whole track"),
        (
            [
                "-m",
                "probe-test-a",
                "-m",
                "probe-test-c",
                "--ensemble",
                "avg_wave",
                "--weights",
                "1,2,3",
            ],
            "weight",
        ),
    ]
    for extra, message in cases:
        capsys.readouterr()
        assert main(["run", str(song), "-o", str(tmp_path / "x"), "-q", *extra]) != 0
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (extra, err)


def test_eval_scores_an_ensemble(
    probe_host: PluginHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from splifft_core.metrics import sdr

    data = tmp_path / "data" / "track0"
    data.mkdir(parents=True)
    mixture = mix(44100, seed=3).numpy()
    vocals = 0.6 * mixture
    sf.write(data / "mixture.wav", mixture.T, 44100, subtype="FLOAT")
    sf.write(data / "vocals.wav", vocals.T, 44100, subtype="FLOAT")
    args = ["eval", str(tmp_path / "data"), "--metrics", "sdr", "--json"]
    ensemble_args = ["-m", "probe-test-a", "-m", "probe-test-c", "--ensemble", "avg_wave"]
    capsys.readouterr()
    assert main([*args, *ensemble_args, "--weights", "1,3"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["model"] == "ensemble"
    members = [splifft.load(f"probe-test-{n}", device="cpu") for n in "ac"]
    ens = EnsembleSeparator.build(members, "avg_wave", [1, 3])
    estimate = ens.separate(torch.from_numpy(mixture), sample_rate=44100)["vocals"].numpy()
    expected = sdr(vocals, estimate)
    assert scored["tracks"]["track0"]["vocals"]["sdr"] == pytest.approx(expected, abs=1e-4)
    # and with --tta (the probe is not odd: TTA changes its output, so the score moves)
    assert main([*args, *ensemble_args, "--weights", "1,3", "--tta"]) == 0
    tta = json.loads(capsys.readouterr().out)["tracks"]["track0"]["vocals"]["sdr"]
    assert abs(tta - expected) > 1e-3
