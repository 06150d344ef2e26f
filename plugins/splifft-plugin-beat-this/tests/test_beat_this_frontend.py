"""The log-mel front end: the filterbank against torchaudio's formula (in numpy, written here
independently), and the features against the reference's `LogMelSpect` frames."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from splifft_plugin_beat_this.logmel import LogMelSpect, mel_filterbank
from splifft_plugin_beat_this.params import BeatThisParams

FIXTURES = Path(__file__).parent / "fixtures"


def numpy_hz_to_mel(f: float | np.ndarray, scale: str) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp = 200.0 / 3
    return np.where(
        f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-12) / 1000.0) / (math.log(6.4) / 27.0), f / f_sp
    )


def numpy_mel_to_hz(m: np.ndarray, scale: str) -> np.ndarray:
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    return np.where(m >= 15.0, 1000.0 * np.exp(math.log(6.4) / 27.0 * (m - 15.0)), f_sp * m)


def numpy_melscale_fbanks(
    n_freqs: int, f_min: float, f_max: float, n_mels: int, rate: int, scale: str
) -> np.ndarray:
    """torchaudio.functional.melscale_fbanks(norm=None) in float64 numpy."""
    freqs = np.linspace(0, rate // 2, n_freqs)
    mels = np.linspace(numpy_hz_to_mel(f_min, scale), numpy_hz_to_mel(f_max, scale), n_mels + 2)
    points = numpy_mel_to_hz(mels, scale)
    fb = np.zeros((n_freqs, n_mels))
    for m in range(n_mels):
        lo, mid, hi = points[m], points[m + 1], points[m + 2]
        rising = (freqs - lo) / (mid - lo)
        falling = (hi - freqs) / (hi - mid)
        fb[:, m] = np.maximum(0.0, np.minimum(rising, falling))
    return fb


@pytest.mark.parametrize("scale", ["slaney", "htk"])
def test_filterbank_matches_torchaudio_formula(scale: str) -> None:
    ours = mel_filterbank(513, 30.0, 11000.0, 128, 22050, scale).numpy()
    theirs = numpy_melscale_fbanks(513, 30.0, 11000.0, 128, 22050, scale)
    assert ours.shape == (513, 128) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=2e-5)
    assert (ours.max(axis=0) > 0).all()


def test_slaney_mel_breakpoint() -> None:
    assert numpy_hz_to_mel(np.array(1000.0), "slaney") == pytest.approx(15.0)
    assert numpy_mel_to_hz(np.array([15.0, 30.0]), "slaney")[0] == pytest.approx(1000.0)


def test_features_match_reference_logmelspect() -> None:
    golden = np.load(FIXTURES / "beat_this_reference.npz")
    spect = LogMelSpect(BeatThisParams())
    for name in ("a", "b"):
        audio = torch.from_numpy(golden[f"{name}_audio"].astype(np.float32) / 32768.0)
        ours = spect(audio, center=True).numpy()
        assert ours.shape[0] == audio.shape[0] // 441 + 1
        np.testing.assert_allclose(ours[:8], golden[f"{name}_spect_head"], atol=1e-5)
        np.testing.assert_allclose(ours[700:708], golden[f"{name}_spect_mid"], atol=1e-5)
        np.testing.assert_allclose(ours[-8:], golden[f"{name}_spect_tail"], atol=1e-5)


def test_uncentred_chunk_frames_are_the_tracks_frames() -> None:
    """A chunk starting `n_fft // 2` before frame `s` gives frames `s, s+1, …` of the centred
    whole-track spectrogram wherever the windows lie inside the track."""
    golden = np.load(FIXTURES / "beat_this_reference.npz")
    audio = torch.from_numpy(golden["a_audio"].astype(np.float32) / 32768.0)
    spect = LogMelSpect(BeatThisParams())
    whole = spect(audio, center=True)
    start = 300
    chunk = audio[start * 441 - 512 : start * 441 - 512 + 99 * 441 + 1024]
    part = spect(chunk[None])[0]
    assert part.shape[0] == 100
    np.testing.assert_allclose(part.numpy(), whole[start : start + 100].numpy(), atol=1e-6)
