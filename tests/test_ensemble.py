"""`splifft_core.ensemble` and `splifft ensemble`: equal to MSST's `average_waveforms` and to
audio-separator's `Ensembler` (goldens: tests/fixtures/ensemble/make_goldens.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from splifft.cli import ensemble as ensemble_cli
from splifft.cli import main
from splifft_core import ensemble as E
from splifft_core.errors import ConfigError
from tests.fixtures.ensemble.stems import RATE, WEIGHTS, golden_indices, make_stems

GOLDENS = Path(__file__).parent / "fixtures" / "ensemble" / "goldens.npz"
MSST_TYPES = E.ENSEMBLE_TYPES[:8]


@pytest.fixture(scope="module")
def stems() -> np.ndarray:
    return make_stems()


@pytest.fixture(scope="module")
def goldens() -> dict[str, np.ndarray]:
    with np.load(GOLDENS) as data:
        return {k: data[k] for k in data.files}


def assert_close(ours: np.ndarray, reference: np.ndarray) -> None:
    scale = float(np.abs(reference).max())
    error = float(np.abs(ours - reference).max())
    assert error <= 1e-4 * scale, f"max abs error {error:.3g} (scale {scale:.3g})"


def test_stems_are_the_goldens_inputs(stems: np.ndarray, goldens: dict[str, np.ndarray]) -> None:
    checksum = [float(np.abs(stems).sum()), float(stems[:, :, ::997].sum())]
    np.testing.assert_allclose(checksum, goldens["stems_checksum"], rtol=1e-6)


@pytest.mark.parametrize("kind", MSST_TYPES)
def test_equals_msst_average_waveforms(
    kind: str, stems: np.ndarray, goldens: dict[str, np.ndarray]
) -> None:
    out = E.ensemble(kind, stems, WEIGHTS)
    assert out.shape == stems.shape[1:]
    assert out.shape[-1] == goldens[f"length/msst/{kind}"]
    assert_close(out[:, golden_indices(out.shape[-1])], goldens[f"msst/{kind}"])


@pytest.mark.parametrize("kind", [k for k in E.ENSEMBLE_TYPES if k != "median_fft"])
def test_equals_audio_separator_ensembler(
    kind: str, stems: np.ndarray, goldens: dict[str, np.ndarray]
) -> None:
    out = E.ensemble(kind, stems, WEIGHTS)
    keep = golden_indices(out.shape[-1])
    assert_close(out[:, keep], goldens[f"as/{kind}"])
    length = int(goldens[f"length/as/{kind}"])
    if length < out.shape[-1]:  # UVR's inverse STFT stops at a whole hop; the rest is silence
        assert kind.startswith("uvr_") and length == E.HOP * (out.shape[-1] // E.HOP)
        assert not out[:, length:].any()


def test_median_fft_follows_msst_not_audio_separator(
    stems: np.ndarray, goldens: dict[str, np.ndarray]
) -> None:
    """audio-separator takes real and imaginary medians apart; MSST numpy's complex median."""
    keep = golden_indices(stems.shape[-1])
    out = E.ensemble("median_fft", stems, WEIGHTS)[:, keep]
    assert np.abs(out - goldens["as/median_fft"]).max() > 1e-3
    assert_close(out, goldens["msst/median_fft"])


@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_complex_median_is_numpys(count: int) -> None:
    rng = np.random.default_rng(count)
    z = rng.standard_normal((count, 2, 7, 9)) + 1j * rng.standard_normal((count, 2, 7, 9))
    z[:, 0, 0, 0] = [1 + 1j * k for k in range(count)][::-1]  # equal real parts: by imaginary
    np.testing.assert_allclose(E.combine_spectra("median_fft", z), np.median(z, axis=0))


def test_combining_block_by_block_equals_whole(stems: np.ndarray) -> None:
    """What a streaming ensemble relies on: waves per sample, spectra per STFT frame."""
    for kind in E.WAVE_TYPES:
        whole = E.combine_waves(kind, stems, WEIGHTS)
        blocks = [E.combine_waves(kind, stems[..., i : i + 10000], WEIGHTS) for i in range(0, stems.shape[-1], 10000)]  # fmt: skip
        np.testing.assert_array_equal(np.concatenate(blocks, axis=-1), whole)
    specs = np.asarray([E.stft(s) for s in stems])
    for kind in E.SPECTRAL_TYPES:
        whole = E.combine_spectra(kind, specs, WEIGHTS)
        blocks = [E.combine_spectra(kind, specs[..., i : i + 7], WEIGHTS) for i in range(0, specs.shape[-1], 7)]  # fmt: skip
        np.testing.assert_array_equal(np.concatenate(blocks, axis=-1), whole)


def test_stft_round_trip(stems: np.ndarray) -> None:
    spec = E.stft(stems[0])
    assert spec.shape == (2, E.N_FFT // 2 + 1, 1 + stems.shape[-1] // E.HOP)
    np.testing.assert_allclose(E.istft(spec, stems.shape[-1]), stems[0], atol=1e-6)


def test_short_input_and_bad_weights() -> None:
    x = np.ones((1, 2, 100), np.float32)
    np.testing.assert_allclose(E.ensemble("max_fft", np.repeat(x, 2, 0)), x[0], atol=1e-6)
    with pytest.raises(ConfigError, match="2 weights for 3 inputs"):
        E.ensemble("avg_wave", np.repeat(x, 3, 0), [1, 2])
    with pytest.raises(ConfigError, match="non-zero sum"):
        E.ensemble("avg_fft", np.repeat(x, 2, 0), [1, -1])
    with pytest.raises(ConfigError, match="unknown"):
        E.check_type("mean")


def test_cli_types_are_the_cores() -> None:
    assert ensemble_cli.TYPES == E.ENSEMBLE_TYPES


# -- the command ---------------------------------------------------------------------------------


def write_stems(folder: Path, stems: np.ndarray) -> list[Path]:
    paths = []
    for i, stem in enumerate(stems):
        path = folder / f"model{i}_vocals.wav"
        sf.write(str(path), stem.T, RATE, subtype="FLOAT")
        paths.append(path)
    return paths


def one_line_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1, err
    assert err.startswith("splifft: error: ")
    return err


@pytest.mark.parametrize("kind", ["avg_wave", "max_fft", "uvr_min_spec"])
def test_cli_writes_the_ensemble(
    kind: str,
    stems: np.ndarray,
    goldens: dict[str, np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = write_stems(tmp_path, stems)
    out = tmp_path / "out" / "vocals.wav"
    args = ["ensemble", *map(str, paths), "--type", kind, "--weights", "1,2,1", "-o", str(out)]
    assert main([*args, "--bit-depth", "32", "--clip-mode", "none"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    data, rate = sf.read(str(out), dtype="float32", always_2d=True)
    assert rate == RATE and data.shape == stems.shape[:0:-1]
    source = "as" if kind.startswith("uvr") else "msst"
    assert_close(data.T[:, golden_indices(len(data))], goldens[f"{source}/{kind}"])
    assert sorted(p.name for p in out.parent.iterdir()) == ["vocals.wav"]  # no temporary left


def test_cli_format_from_suffix_and_rescale(
    stems: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write_stems(tmp_path, stems)
    out = tmp_path / "max.flac"
    assert main(["ensemble", *map(str, paths), "--type", "max_wave", "-o", str(out)]) == 0
    assert "rescaled" in capsys.readouterr().err
    info = sf.info(str(out))
    assert info.format == "FLAC" and info.subtype == "PCM_24"
    data, _ = sf.read(str(out), always_2d=True)
    expected = E.ensemble("max_wave", stems)
    expected /= np.abs(expected).max()
    assert np.abs(data.T - expected).max() < 1e-5


def test_cli_aligns_rates_lengths_and_channels(
    stems: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first input's rate; mono repeated; shorter inputs padded with silence."""
    a = tmp_path / "a.wav"
    b = tmp_path / "b.flac"
    c = tmp_path / "c.wav"
    sf.write(str(a), stems[0].T[:100000], RATE, subtype="FLOAT")
    sf.write(str(b), stems[1, 0][:120000], RATE, subtype="PCM_24")
    sf.write(str(c), stems[2].T[::2][:50000], RATE // 2, subtype="FLOAT")
    out = tmp_path / "out.wav"
    args = ["ensemble", str(a), str(b), str(c), "--type", "avg_wave", "-o", str(out)]
    assert main([*args, "--bit-depth", "32"]) == 0
    err = capsys.readouterr().err
    assert f"{c}: resampled from 22050 Hz to 44100 Hz" in err
    assert "padded with silence to 120000 frames" in err
    data, _ = sf.read(str(out), dtype="float32", always_2d=True)
    inputs = [(sf.read(str(p), dtype="float32", always_2d=True)) for p in (a, b, c)]
    stack, rate = E.align([(d.T, r) for d, r in inputs], ["a", "b", "c"])
    assert rate == RATE and stack.shape == (3, 2, 120000)
    np.testing.assert_array_equal(stack[1, 0], stack[1, 1])
    assert not stack[0, :, 100000:].any()
    np.testing.assert_allclose(data.T, stack.mean(axis=0), atol=1e-6)


def test_cli_errors_are_one_line(
    stems: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(p) for p in write_stems(tmp_path, stems)]
    before = Path(paths[0]).read_bytes()
    out = str(tmp_path / "out.wav")
    err = one_line_error(["ensemble", *paths, "-o", paths[0]], capsys)
    assert "refusing to overwrite an input" in err
    assert Path(paths[0]).read_bytes() == before
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    assert str(bad) in one_line_error(["ensemble", paths[0], str(bad), "-o", out], capsys)
    assert "2 weights for 3 inputs" in one_line_error(
        ["ensemble", *paths, "--weights", "1,2", "-o", out], capsys
    )
    assert "--weights" in one_line_error(
        ["ensemble", *paths, "--weights", "1,x,1", "-o", out], capsys
    )
    assert "suffix" in one_line_error(["ensemble", *paths, "-o", str(tmp_path / "o.xyz")], capsys)
    assert "at least two" in one_line_error(["ensemble", paths[0], "-o", out], capsys)
    mono = tmp_path / "quad.wav"
    sf.write(str(mono), np.zeros((1000, 4), np.float32), RATE)
    assert "another input has 4" in one_line_error(
        ["ensemble", paths[0], str(mono), "-o", out], capsys
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["bad.wav", "quad.wav", *(Path(p).name for p in paths)]
    )
