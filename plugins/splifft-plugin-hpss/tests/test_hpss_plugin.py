"""HPSS truly separates: each stem ≥ 10 dB SDR on sustained tones plus clicks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import splifft_plugin_hpss
import torch
from splifft_plugin_hpss import HPSS
from splifft_plugin_hpss.network import median_filter, soft_mask

from splifft_core.testing import check_architecture

SAMPLE_RATE = 44100


def tones_and_clicks(seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sustained partials and decaying noise clicks, each `(2, samples)`."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tones = np.zeros((2, len(t)))
    for freq in rng.uniform(150, 1500, size=6):
        tones += (
            0.05
            * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))[None]
            * rng.uniform(0.5, 1, (2, 1))
        )
    clicks = np.zeros((2, len(t)))
    burst = int(0.003 * SAMPLE_RATE)
    envelope = np.exp(-np.arange(burst) / (0.0006 * SAMPLE_RATE))
    for start in range(int(0.05 * SAMPLE_RATE), len(t) - burst, int(0.3 * SAMPLE_RATE)):
        clicks[:, start : start + burst] += 0.6 * envelope * rng.standard_normal((2, burst))
    return tones.astype(np.float32), clicks.astype(np.float32)


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2)))


@pytest.mark.parametrize("seed", [0, 1])
def test_hpss_separates_tones_from_clicks(plugin_host: Callable[..., object], seed: int) -> None:
    plugin_host(splifft_plugin_hpss)
    import splifft

    separator = splifft.load("hpss-fitzgerald-median", device="cpu")
    tones, clicks = tones_and_clicks(12.0, seed)
    stems = separator.separate(torch.from_numpy(tones + clicks), sample_rate=SAMPLE_RATE)
    assert sdr(tones, stems["harmonic"].numpy()) >= 10.0
    assert sdr(clicks, stems["percussive"].numpy()) >= 10.0
    # soft masks sum to one: the stems add back up to the mixture
    np.testing.assert_allclose(
        (stems["harmonic"] + stems["percussive"]).numpy(), tones + clicks, atol=1e-4
    )


def test_median_filter_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 40)).astype(np.float32)
    got = median_filter(torch.from_numpy(x), 5, dim=-1).numpy()
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2)), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 5, axis=-1)
    np.testing.assert_allclose(got, np.median(windows, axis=-1), rtol=0, atol=0)


def test_soft_mask_formula() -> None:
    a = torch.tensor([3.0, 0.0, 1.0])
    b = torch.tensor([4.0, 0.0, 0.0])
    torch.testing.assert_close(soft_mask(a, b, 2.0), torch.tensor([9 / 25, 0.5, 1.0]))


def test_contract() -> None:
    check_architecture(
        HPSS,
        {
            "chunk_size": 16384,
            "n_fft": 512,
            "hop_length": 128,
            "harmonic_kernel": 7,
            "percussive_kernel": 7,
        },
    )


def test_even_kernel_is_rejected() -> None:
    with pytest.raises(ValueError, match="odd"):
        HPSS.parse_params({"harmonic_kernel": 8})
