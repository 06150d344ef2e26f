"""Metrics against reference values from MSST's formulas, auraloss, torch-log-wmse and museval.

The goldens come from `tests/fixtures/metrics/make_metric_goldens.py` (run in a side venv); the
signals are rebuilt here from the same recipe and checked against the recorded digests.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from splifft_core import metrics

FIXTURES = Path(__file__).parent / "fixtures" / "metrics"
GOLDENS: dict[str, Any] = json.loads((FIXTURES / "metric_goldens.json").read_text())
TOLERANCES = {
    "sdr": 1e-4,
    "si_sdr": 1e-4,
    "l1_freq": 1e-4,
    "log_wmse": 1e-4,
    "aura_stft": 1e-3,
    "aura_mrstft": 1e-3,
    "bleedless": 1.0,
    "fullness": 1.0,
    "bss_sdr": 1e-4,
}


def _digest(x: npt.NDArray[Any]) -> str:
    return hashlib.sha256(np.ascontiguousarray(x, dtype="<f4").tobytes()).hexdigest()


@pytest.fixture(scope="module")
def signals() -> dict[str, npt.NDArray[np.float32]]:
    spec = importlib.util.spec_from_file_location(
        "splifft_metric_goldens_recipe", FIXTURES / "make_metric_goldens.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made: dict[str, npt.NDArray[np.float32]] = module.make_signals()
    for name, signal in made.items():
        assert _digest(signal) == GOLDENS["signal_sha256"][name], f"recipe drifted: {name}"
    return made


@pytest.fixture(scope="module")
def computed(signals: dict[str, npt.NDArray[np.float32]]) -> dict[str, dict[str, float]]:
    # As MSST: references and mixture read as float64, estimates are the model's float32.
    reference = signals["target"].astype(np.float64)
    mixture = signals["mixture"].astype(np.float64)
    return {
        case: metrics.compute_metrics(
            metrics.EVAL_METRICS,
            reference,
            signals[f"estimate/{case}"],
            mixture,
            GOLDENS["recipe"]["sample_rate"],
        )
        for case in GOLDENS["cases"]
    }


@pytest.mark.parametrize("metric", list(TOLERANCES))
@pytest.mark.parametrize("case", list(GOLDENS["cases"]))
def test_metric_matches_reference(
    computed: dict[str, dict[str, float]], case: str, metric: str
) -> None:
    expected = GOLDENS["cases"][case]["metrics"][metric]
    got = computed[case][metric]
    if math.isinf(expected):
        assert got == expected
    else:
        assert got == pytest.approx(expected, abs=TOLERANCES[metric])


def test_known_answers(computed: dict[str, dict[str, float]]) -> None:
    assert computed["scaled_0.5"]["sdr"] == pytest.approx(20 * math.log10(2), abs=1e-4)
    assert computed["noise_10db"]["sdr"] == pytest.approx(10.0, abs=1e-4)
    assert computed["leak_-12db"]["sdr"] == pytest.approx(12.0, abs=1e-4)
    # Scale invariance: halving costs nothing but rounding.
    assert computed["scaled_0.5"]["si_sdr"] > 100.0
    identical = computed["identical"]
    assert identical["bleedless"] == identical["fullness"] == 100.0
    assert identical["aura_mrstft"] == pytest.approx(100.0)
    assert identical["bss_sdr"] == math.inf
    # Halving is pure loss of energy: nothing louder than the reference.
    assert computed["scaled_0.5"]["bleedless"] == 100.0
    assert computed["scaled_0.5"]["fullness"] < 50.0


def test_framewise_sdr_matches_museval_frames(signals: dict[str, npt.NDArray[np.float32]]) -> None:
    reference = signals["target"].astype(np.float64)
    for case, golden in GOLDENS["cases"].items():
        frames = metrics.framewise_sdr(reference, signals[f"estimate/{case}"], 44100)
        np.testing.assert_allclose(frames, golden["bss_sdr_frames"], atol=1e-6)


def test_filter_tables_match_reference_packages() -> None:
    taps = metrics._a_weighting_fir(44100)
    np.testing.assert_allclose(taps, GOLDENS["aweighting_fir_taps"], rtol=0, atol=1e-7)
    bank = metrics.mel_filterbank(44100, 4096, 512)
    np.testing.assert_allclose(bank.sum(axis=1), GOLDENS["mel_4096_512_row_sums"], rtol=1e-6)
    assert _digest(metrics._log_wmse_filter_ir()) == GOLDENS["log_wmse_filter_ir_sha256"]


def test_framewise_sdr_frames_and_silence() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((2, 250))
    est = ref.copy()
    est[:, :100] += 0.1 * ref[:, :100]  # frame 0: error power 1% -> 20 dB
    ref[:, 100:200] = 0.0  # frame 1: silent reference -> NaN
    frames = metrics.framewise_sdr(ref, est, sample_rate=100)
    assert frames.shape == (2,)  # the 50-sample tail is not a frame
    assert frames[0] == pytest.approx(20.0)
    assert math.isnan(frames[1])
    assert metrics.bss_sdr(ref, est, sample_rate=100) == pytest.approx(20.0)
    # Shorter than one frame: one frame over everything.
    assert metrics.framewise_sdr(ref[:, :50], est[:, :50], sample_rate=100).shape == (1,)


def test_compute_metrics_trims_and_validates() -> None:
    ref = np.ones((2, 1000))
    est = np.concatenate([0.5 * ref, np.zeros((2, 10))], axis=1)
    got = metrics.compute_metrics(["sdr", "sdr"], ref, est)
    assert list(got) == ["sdr"]
    assert got["sdr"] == pytest.approx(20 * math.log10(2), abs=1e-6)
    # bss_sdr pads a short estimate as museval does: frames 6.02, 2.04 dB and a silent one.
    padded = metrics.compute_metrics(
        ["bss_sdr"], np.ones((2, 300)), np.full((2, 150), 0.5), None, 100
    )
    assert padded["bss_sdr"] == pytest.approx((20 * math.log10(2) + 10 * math.log10(1.6)) / 2)
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.compute_metrics(["nope"], ref, ref)
    with pytest.raises(ValueError, match="mixture"):
        metrics.compute_metrics(["log_wmse"], ref, ref)


def test_import_does_not_load_torch() -> None:
    code = "import sys, splifft_core.metrics; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
