r"""Separation metrics, computed the way MSST's validation computes them.

Music-Source-Separation-Training's `utils/metrics.py` is what the community's leaderboards run;
every constant below (STFT sizes, windows, mel banks, dB floors, score mappings, epsilons) is
taken from it so the numbers match. Each metric takes a reference and an estimate shaped
`(channels, samples)` (numpy arrays, any float dtype) and returns a float, higher is better.

MSST evaluates with 44.1 kHz constants whatever the file's rate (`log_wmse`, `aura_mrstft`,
`bleedless`/`fullness`); so do we. Only `bss_sdr` (framewise BSS-Eval) uses the real rate,
for its 1-second frames.

torch is imported inside the functions that need it: importing this module is light.
"""

from __future__ import annotations

import base64
import functools
import math
import zlib
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from splifft_core.types import Metric

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    import torch

Audio = npt.NDArray[np.floating[Any]]
"""A signal shaped (channels, samples)."""

FloatArray = npt.NDArray[np.float64]

BssSdr = Literal["bss_sdr"]
EvalMetric = Metric | BssSdr
"""What `splifft eval` can report: MSST's eight metrics plus the framewise BSS-Eval SDR."""

MSST_METRICS: Final[tuple[Metric, ...]] = get_args(Metric)
EVAL_METRICS: Final[tuple[str, ...]] = (*MSST_METRICS, "bss_sdr")
METRICS_NEEDING_MIXTURE: Final[frozenset[str]] = frozenset({"log_wmse"})

MSST_SAMPLE_RATE: Final = 44100
"""The rate MSST's metric constants assume (mel banks, A-weighting, log-wMSE filter)."""

_EPS: Final = 1e-8


def _f64(x: Audio) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _check_pair(reference: Audio, estimate: Audio) -> None:
    if reference.shape != estimate.shape or reference.ndim != 2:
        raise ValueError(
            f"reference {reference.shape} and estimate {estimate.shape} must both be "
            "(channels, samples) of the same shape"
        )


# --------------------------------------------------------------------------------------------
# time domain


def sdr(reference: Audio, estimate: Audio) -> float:
    r"""Signal-to-distortion ratio in dB over the whole track, all channels together.

    $\mathrm{SDR} = 10\log_{10}\frac{\sum s^2 + \epsilon}{\sum (s - \hat s)^2 + \epsilon}$,
    $\epsilon = 10^{-8}$ (MSST `sdr`; an identical estimate scores about 80 dB above the
    reference's energy in dB, not infinity).
    """
    _check_pair(reference, estimate)
    s, e = _f64(reference), _f64(estimate)
    num = np.sum(np.square(s)) + _EPS
    den = np.sum(np.square(s - e)) + _EPS
    return float(10.0 * np.log10(num / den))


def si_sdr(reference: Audio, estimate: Audio) -> float:
    r"""Scale-invariant SDR in dB (MSST `si_sdr`).

    $\alpha = \frac{\sum (\hat s s + \epsilon)}{\sum (s^2 + \epsilon)}$ (MSST adds $\epsilon$
    per sample inside both sums), $t = \alpha s$,
    $\mathrm{SI\text{-}SDR} = 10\log_{10}\left(\frac{\sum t^2}{\sum (t - \hat s)^2 + \epsilon}
    + \epsilon\right)$, $\epsilon = 10^{-8}$.
    """
    _check_pair(reference, estimate)
    s, e = _f64(reference), _f64(estimate)
    alpha = np.sum(e * s + _EPS) / np.sum(s**2 + _EPS)
    target = alpha * s
    ratio = np.sum(target**2) / (np.sum((target - e) ** 2) + _EPS) + _EPS
    return float(10.0 * np.log10(ratio))


def framewise_sdr(reference: Audio, estimate: Audio, sample_rate: int) -> FloatArray:
    r"""BSS-Eval v4 SDR of each 1-second frame (museval's `evaluate`, no overlap).

    In BSS-Eval v4's image mode the SDR of a frame is
    $10\log_{10}\frac{\sum s^2}{\sum (\hat s - s)^2}$ (the distortion filters cancel out of
    it); frames are `sample_rate` samples, a trailing partial frame is dropped unless the
    whole signal is shorter than one frame. Frames where the reference or the estimate is
    silent (its channel sum is zero throughout) are NaN, a perfect frame is +inf. museval,
    evaluating all stems at once, also skips frames where any *other* stem is silent.
    """
    _check_pair(reference, estimate)
    s, e = _f64(reference), _f64(estimate)
    n = s.shape[-1]
    window = hop = int(sample_rate)
    n_frames = (n - window + hop) // hop if window < n else 1
    out = np.full(n_frames, np.nan)
    for i in range(n_frames):
        frame = slice(i * hop, min(i * hop + window, n))
        ref, est = s[:, frame], e[:, frame]
        if np.all(ref.sum(axis=0) == 0) or np.all(est.sum(axis=0) == 0):
            continue
        den = float(np.sum((est - ref) ** 2))
        out[i] = math.inf if den == 0 else 10.0 * math.log10(float(np.sum(ref**2)) / den)
    return out


def bss_sdr(reference: Audio, estimate: Audio, sample_rate: int) -> float:
    """Median over 1-second frames of the BSS-Eval v4 SDR, as papers report per track.

    Not MSST's `sdr`: see [framewise_sdr][splifft_core.metrics.framewise_sdr]. NaN frames
    (silence) are ignored; NaN if every frame is silent.
    """
    frames = framewise_sdr(reference, estimate, sample_rate)
    if np.all(np.isnan(frames)):
        return math.nan
    return float(np.nanmedian(frames))


# --------------------------------------------------------------------------------------------
# spectral


def l1_freq(reference: Audio, estimate: Audio) -> float:
    r"""Score from the L1 distance of STFT magnitudes (MSST `L1Freq_metric`).

    STFT: `n_fft=2048`, `hop=1024`, rectangular window (MSST passes none), centred with
    reflect padding. $L = \operatorname{mean}|\,|\hat S| - |S|\,|$ and the score is
    $100 / (1 + 10 L)$ in $(0, 100]$. Each STFT runs in its input's precision (float32 stays
    float32, as MSST's model output does; anything else is float64).
    """
    import torch

    _check_pair(reference, estimate)

    def magnitude(x: Audio) -> torch.Tensor:
        t = _tensor_keeping_precision(x)
        window = torch.ones(2048, dtype=t.dtype)
        return torch.stft(t, 2048, 1024, window=window, return_complex=True).abs()

    ref_mag, est_mag = magnitude(reference), magnitude(estimate)
    loss = 10.0 * float(torch.mean(torch.abs(est_mag - ref_mag)))
    return 100.0 / (1.0 + loss)


def _tensor_keeping_precision(x: Audio) -> torch.Tensor:
    """float32 stays float32 (MSST's model output), anything else becomes float64."""
    import torch

    dtype = np.float32 if np.asarray(x).dtype == np.float32 else np.float64
    return torch.from_numpy(np.array(x, dtype=dtype))


def _stft_magnitude(x: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """auraloss's STFT magnitude: centred, reflect padding, floor 1e-8 on the power."""
    import torch

    spec = torch.stft(x, n_fft, hop, n_fft, window.to(x.dtype), return_complex=True)
    return torch.sqrt(torch.clamp(spec.real**2 + spec.imag**2, min=_EPS))


def _aura_stft_loss(
    reference: torch.Tensor,
    estimate: torch.Tensor,
    n_fft: int,
    hop: int,
    mel_bank: torch.Tensor | None = None,
) -> torch.Tensor:
    """auraloss `STFTLoss` with `w_sc=1, w_log_mag=1`, input=reference and target=estimate.

    Spectral convergence $\\|Y - X\\|_F / \\|Y\\|_F$ plus $\\operatorname{mean}|\\log X -
    \\log Y|$, with $X$ the reference's and $Y$ the estimate's (mel-)magnitudes.
    """
    import torch

    window = torch.hann_window(n_fft)
    x = _stft_magnitude(reference, n_fft, hop, window)
    y = _stft_magnitude(estimate, n_fft, hop, window)
    if mel_bank is not None:
        x = torch.matmul(mel_bank, x)
        y = torch.matmul(mel_bank, y)
    spectral_convergence = torch.linalg.vector_norm(y - x) / torch.linalg.vector_norm(y)
    log_magnitude = torch.mean(torch.abs(torch.log(x) - torch.log(y)))
    loss: torch.Tensor = spectral_convergence + log_magnitude
    return loss


def aura_stft(reference: Audio, estimate: Audio) -> float:
    r"""Score from auraloss's single-resolution STFT loss (MSST `AuraSTFT_metric`).

    Hann window 1024, hop 256; loss = spectral convergence + mean L1 of log magnitudes
    (reference as input, estimate as target); score $100 / (1 + 10\,\mathrm{loss})$.
    Each STFT runs in its input's precision, as in [l1_freq][splifft_core.metrics.l1_freq].
    """

    _check_pair(reference, estimate)
    ref = _tensor_keeping_precision(reference)
    est = _tensor_keeping_precision(estimate)
    loss = float(_aura_stft_loss(ref, est, 1024, 256))
    return 100.0 / (1.0 + 10.0 * loss)


_MRSTFT_RESOLUTIONS: Final = ((1024, 256), (2048, 512), (4096, 1024))  # (n_fft = win, hop)


def aura_mrstft(reference: Audio, estimate: Audio) -> float:
    r"""Score from auraloss's multi-resolution mel STFT loss (MSST `AuraMRSTFT_metric`).

    Both signals are A-weighted (101-tap least-squares FIR fitted to the IEC analog A-weighting
    at 44.1 kHz, as auraloss's `FIRFilter("aw")`), then for (n_fft, hop) in (1024, 256),
    (2048, 512), (4096, 1024): Hann STFT magnitudes through a 128-band Slaney mel bank,
    spectral convergence + mean L1 of log mel magnitudes; the three losses are averaged and
    the score is $100 / (1 + 10\,\mathrm{loss})$. Computed in float32 as MSST does.
    """
    import torch

    _check_pair(reference, estimate)
    # auraloss A-weights with a float32 conv1d ("same" padding). The taps are symmetric, so
    # that is the middle of the full convolution; done here by FFT, as a direct conv1d of a
    # whole track is slow on CPU.
    taps = torch.from_numpy(_a_weighting_fir(MSST_SAMPLE_RATE).astype(np.float64))
    both = np.concatenate([reference, estimate]).astype(np.float32).astype(np.float64)
    n = both.shape[-1]
    fft_size = 1 << (n + taps.numel() - 2).bit_length()
    spectrum = torch.fft.rfft(torch.from_numpy(both), fft_size) * torch.fft.rfft(taps, fft_size)
    start = taps.numel() // 2
    weighted = torch.fft.irfft(spectrum, fft_size)[:, start : start + n].float()
    ref, est = weighted[: reference.shape[0]], weighted[reference.shape[0] :]
    total = 0.0
    for n_fft, hop in _MRSTFT_RESOLUTIONS:
        bank = torch.from_numpy(mel_filterbank(MSST_SAMPLE_RATE, n_fft, 128).copy())
        total += float(_aura_stft_loss(ref, est, n_fft, hop, bank))
    return 100.0 / (1.0 + 10.0 * total / len(_MRSTFT_RESOLUTIONS))


def bleedless_fullness(reference: Audio, estimate: Audio) -> tuple[float, float]:
    r"""MSST's `bleed_full`: how much the estimate is louder / quieter than the reference.

    Magnitudes of a Hann STFT (n_fft 4096, hop 1024, centred, zero padding) through a 512-band
    Slaney mel bank at 44.1 kHz, to dB: $20\log_{10}\max(x, 10^{-10})$ floored at 80 dB below
    the maximum over all channels. $D = \mathrm{dB}(\hat S_\mathrm{mel}) -
    \mathrm{dB}(S_\mathrm{mel})$; bleedless $= 100 / (1 + \operatorname{mean} D|_{D>0})$,
    fullness $= 100 / (1 + \operatorname{mean} |D|\,|_{D<0})$ (a mean over nothing is 0).
    Computed in float32 as MSST does; it is sensitive to that precision (about ±1).
    """
    import torch

    _check_pair(reference, estimate)
    n_fft, hop = 4096, 1024
    window = torch.hann_window(n_fft)
    bank = torch.from_numpy(mel_filterbank(MSST_SAMPLE_RATE, n_fft, 512).copy())

    def mel_db(x: Audio) -> torch.Tensor:
        t = torch.from_numpy(np.asarray(x, dtype=np.float32))
        spec = torch.stft(t, n_fft, hop, window=window, pad_mode="constant", return_complex=True)
        db = 20.0 * torch.log10(torch.clamp(torch.matmul(bank, spec.abs()), min=1e-10))
        return torch.maximum(db, db.max() - 80.0)

    diff = mel_db(estimate) - mel_db(reference)
    positive, negative = diff[diff > 0], diff[diff < 0]
    mean_positive = float(positive.mean()) if positive.numel() else 0.0
    mean_negative = float(negative.mean()) if negative.numel() else 0.0
    return 100.0 / (mean_positive + 1.0), 100.0 / (-mean_negative + 1.0)


def bleedless(reference: Audio, estimate: Audio) -> float:
    """See [bleedless_fullness][splifft_core.metrics.bleedless_fullness]."""
    return bleedless_fullness(reference, estimate)[0]


def fullness(reference: Audio, estimate: Audio) -> float:
    """See [bleedless_fullness][splifft_core.metrics.bleedless_fullness]."""
    return bleedless_fullness(reference, estimate)[1]


# --------------------------------------------------------------------------------------------
# log-wMSE


_LOG_WMSE_SCALER: Final = -4.0
_LOG_WMSE_TOLERANCE: Final = float(np.float32(10.0 ** (-68.0 / 20.0)))  # -68 dB re 0 dB RMS


def log_wmse(reference: Audio, estimate: Audio, mixture: Audio) -> float:
    r"""Logarithm of a frequency-weighted MSE (torch-log-wmse 0.3, as MSST calls it).

    All signals are filtered by the human hearing sensitivity filter (a 4000-tap zero-phase
    FIR at 44.1 kHz, applied by FFT convolution) and scaled by $1 / (\mathrm{rms}_i + 10^{-8})$,
    $\mathrm{rms}_i$ being the RMS of the filtered mixture's channel $i$. Differences
    $d = \mathrm{filt}(s_j / r_i) - \mathrm{filt}(\hat s_j / r_i)$ below -68 dB are zeroed
    and the value is $\operatorname{mean}_{i,j} -4 \ln(\operatorname{mean}_t d^2 + 10^{-8})$:
    MSST's tensor layout pairs every mixture channel $i$ with every stem channel $j$.
    """
    import torch

    _check_pair(reference, estimate)
    if mixture.shape[0] != reference.shape[0] or mixture.shape[-1] < reference.shape[-1]:
        raise ValueError(f"mixture {mixture.shape} does not fit reference {reference.shape}")
    n = reference.shape[-1]
    # MSST passes the length in seconds and the package converts back; keep its rounding.
    samples = math.floor(n / MSST_SAMPLE_RATE * MSST_SAMPLE_RATE)
    ir = _log_wmse_filter_ir()
    fft_size = 2 ** math.ceil(math.log2(samples + ir.size - 1))
    left = (fft_size - ir.size) // 2
    padded_ir = np.pad(ir, (left, fft_size - ir.size - left)).astype(np.float64)
    ir_fft = torch.fft.rfft(torch.from_numpy(padded_ir))
    shift = (fft_size - ir.size % 2) // 2 - 1

    def filt(x: torch.Tensor) -> torch.Tensor:
        y = torch.fft.irfft(torch.fft.rfft(x, n=fft_size) * ir_fft, n=fft_size)
        return torch.roll(y, -shift, dims=-1)[..., :samples]

    mix = torch.from_numpy(_f64(mixture)[:, :n])
    input_rms = torch.sqrt(torch.mean(torch.square(filt(mix)), dim=-1))
    # The filter is linear: filt(a·s) - filt(a·ŝ) = a·filt(s - ŝ) up to rounding, which
    # saves all but one FFT per stem channel.
    error = torch.from_numpy(_f64(reference) - _f64(estimate))
    filtered_error = [filt(channel) for channel in error]
    values = []
    for scale in (1.0 / (input_rms + _EPS)).tolist():
        for channel_error in filtered_error:
            d = channel_error * scale
            d[torch.abs(d) < _LOG_WMSE_TOLERANCE] = 0.0
            values.append(math.log(float(torch.mean(d**2)) + _EPS) * _LOG_WMSE_SCALER)
    return float(np.mean(values))


@functools.cache
def _log_wmse_filter_ir() -> npt.NDArray[np.float32]:
    """torch-log-wmse's 44.1 kHz hearing-sensitivity impulse response, as float32."""
    raw = zlib.decompress(base64.b64decode("".join(_LOG_WMSE_FILTER_IR_B64)))
    ir = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    ir.setflags(write=False)
    return ir


# --------------------------------------------------------------------------------------------
# filter banks


def _hz_to_mel(hz: FloatArray) -> FloatArray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f_sp = 200.0 / 3
    min_log_mel = 1000.0 / f_sp
    logstep = math.log(6.4) / 27.0
    mels = hz / f_sp
    above = hz >= 1000.0
    mels[above] = min_log_mel + np.log(hz[above] / 1000.0) / logstep
    return mels


def _mel_to_hz(mels: FloatArray) -> FloatArray:
    f_sp = 200.0 / 3
    min_log_mel = 1000.0 / f_sp
    logstep = math.log(6.4) / 27.0
    hz = f_sp * mels
    above = mels >= min_log_mel
    hz[above] = 1000.0 * np.exp(logstep * (mels[above] - min_log_mel))
    return hz


@functools.cache
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> npt.NDArray[np.float32]:
    """Slaney-style, area-normalised triangular mel bank, 0 Hz to Nyquist, float32.

    The bank `librosa.filters.mel(sr=..., n_fft=..., n_mels=...)` builds with its defaults,
    which MSST and auraloss use. Shape (n_mels, n_fft // 2 + 1); read-only.
    """
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = np.array([0.0, sample_rate / 2.0])
    mel_lo, mel_hi = _hz_to_mel(edges.copy())
    mel_f = _mel_to_hz(np.linspace(mel_lo, mel_hi, n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((n_mels, fft_freqs.size), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    weights.setflags(write=False)
    return weights


def _bilinear(b: Iterable[float], a: Iterable[float], fs: float) -> tuple[FloatArray, FloatArray]:
    """Analog (descending powers of s) to digital (ascending powers of z^-1) filter.

    Substitutes $s = 2 f_s (1 - z^{-1}) / (1 + z^{-1})$ and clears the denominators.
    """
    from numpy.polynomial import polynomial as P

    b_s, a_s = np.atleast_1d(np.asarray(list(b), float)), np.atleast_1d(np.asarray(list(a), float))
    order = max(b_s.size, a_s.size) - 1

    def digital(coeffs: FloatArray) -> FloatArray:
        out = np.zeros(order + 1)
        degree = coeffs.size - 1
        for power, c in enumerate(coeffs[::-1]):  # c multiplies s**power
            if power > degree:
                break
            term = P.polymul(P.polypow([1.0, -1.0], power), P.polypow([1.0, 1.0], order - power))
            out += c * (2.0 * fs) ** power * term
        return out

    num, den = digital(b_s), digital(a_s)
    return num / den[0], den / den[0]


def _firls(numtaps: int, bands: FloatArray, desired: FloatArray, fs: float) -> FloatArray:
    """Linear-phase least-squares FIR (type I) for piecewise-linear bands, unit weights.

    `bands` and `desired` hold edge pairs (start, end) in Hz and gains; the error between
    the pairs is not counted. Minimises $\\int W (A(f) - D(f))^2 df$ over the bands, $A$ the
    amplitude of the symmetric filter (Selesnick's formulation).
    """
    half = (numtaps - 1) // 2
    edges = (bands / (fs / 2.0)).reshape(-1, 2)
    gains = desired.reshape(-1, 2)
    n = np.arange(numtaps)[:, None, None]
    q = np.diff(np.sinc(edges * n) * edges, axis=2)[:, :, 0].sum(axis=1)
    k = np.arange(half + 1)
    gram = q[np.abs(k[:, None] - k[None, :])] + q[k[:, None] + k[None, :]]
    n = n[: half + 1]
    slope = np.diff(gains, axis=1) / np.diff(edges, axis=1)
    offset = gains[:, [0]] - edges[:, [0]] * slope
    rhs = edges * (slope * edges + offset) * np.sinc(edges * n)
    rhs[0] -= slope * edges * edges / 2.0
    rhs[1:] += slope * np.cos(n[1:] * np.pi * edges) / (np.pi * n[1:]) ** 2
    b = np.diff(rhs, axis=2)[:, :, 0].sum(axis=1)
    a = np.linalg.solve(gram, b)
    return np.hstack((a[:0:-1], 2.0 * a[0], a[1:]))


@functools.cache
def _a_weighting_fir(sample_rate: int, numtaps: int = 101) -> npt.NDArray[np.float32]:
    """auraloss's perceptual pre-filter: a least-squares FIR fit of A-weighting.

    Analog A-weighting (IEC/CD 1672 poles at 20.6, 107.7, 737.9 and 12194 Hz, +1.9997 dB at
    1 kHz), bilinear transform, its magnitude at 512 frequencies from 0 to Nyquist, fitted
    pairwise by a `numtaps` linear-phase least-squares FIR.
    """
    f1, f2, f3, f4 = 20.598997, 107.65265, 737.86223, 12194.217
    num = [(2 * np.pi * f4) ** 2 * 10 ** (1.9997 / 20), 0.0, 0.0, 0.0, 0.0]
    den = np.polymul(
        [1.0, 4 * np.pi * f4, (2 * np.pi * f4) ** 2], [1.0, 4 * np.pi * f1, (2 * np.pi * f1) ** 2]
    )
    den = np.polymul(np.polymul(den, [1.0, 2 * np.pi * f3]), [1.0, 2 * np.pi * f2])
    b, a = _bilinear(num, den, sample_rate)
    w = np.linspace(0.0, np.pi, 512, endpoint=False)
    z = np.exp(-1j * w)
    response = np.polyval(b[::-1], z) / np.polyval(a[::-1], z)
    taps = _firls(numtaps, w * sample_rate / (2 * np.pi), np.abs(response), sample_rate)
    out = taps.astype(np.float32)
    out.setflags(write=False)
    return out


# --------------------------------------------------------------------------------------------
# dispatch


def _two_arg(fn: Callable[[Audio, Audio], float]) -> Callable[[Audio, Audio, Audio | None], float]:
    return lambda ref, est, _mix: fn(ref, est)


def _log_wmse_entry(ref: Audio, est: Audio, mix: Audio | None) -> float:
    if mix is None:
        raise ValueError("log_wmse needs the mixture")
    return log_wmse(ref, est, mix)


_DISPATCH: Final[Mapping[str, Callable[[Audio, Audio, Audio | None], float]]] = {
    "sdr": _two_arg(sdr),
    "si_sdr": _two_arg(si_sdr),
    "l1_freq": _two_arg(l1_freq),
    "log_wmse": _log_wmse_entry,
    "aura_stft": _two_arg(aura_stft),
    "aura_mrstft": _two_arg(aura_mrstft),
}


def compute_metrics(
    metrics: Iterable[str],
    reference: Audio,
    estimate: Audio,
    mixture: Audio | None = None,
    sample_rate: int = MSST_SAMPLE_RATE,
) -> dict[str, float]:
    """The chosen metrics for one stem, as MSST's `get_metrics` computes them.

    Signals are `(channels, samples)`; all three are cut to the shorter of reference and
    estimate first, as MSST does (for `bss_sdr` the estimate is zero-padded or cut to the
    reference's length instead, as museval does). `mixture` is needed for `log_wmse` only,
    `sample_rate` for `bss_sdr` only. Raises ValueError on an unknown metric or mismatched
    shapes.
    """
    wanted = list(dict.fromkeys(metrics))
    unknown = [m for m in wanted if m not in EVAL_METRICS]
    if unknown:
        raise ValueError(
            f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(EVAL_METRICS)}"
        )
    length = min(reference.shape[-1], estimate.shape[-1])
    ref, est = reference[..., :length], estimate[..., :length]
    mix = None if mixture is None else mixture[..., :length]
    result: dict[str, float] = {}
    if "bleedless" in wanted or "fullness" in wanted:
        bleed, full = bleedless_fullness(ref, est)
        scores = {"bleedless": bleed, "fullness": full}
    for name in wanted:
        if name in ("bleedless", "fullness"):
            result[name] = scores[name]
        elif name == "bss_sdr":
            # museval pads (or cuts) the estimate to the reference's length instead
            fitted = np.zeros_like(estimate, shape=reference.shape)
            common = min(reference.shape[-1], estimate.shape[-1])
            fitted[..., :common] = estimate[..., :common]
            result[name] = bss_sdr(reference, fitted, sample_rate)
        else:
            result[name] = _DISPATCH[name](ref, est, mix)
    return result


# Human hearing sensitivity impulse response shipped by torch-log-wmse 0.3.x (Apache-2.0,
# crlandsc/torch-log-wmse, from nomonosound/log-wmse-audio-quality): 4000 float32 taps,
# little-endian, zlib-compressed, base64. The package cannot be imported at runtime (it imports
# torchaudio, whose binaries are tied to one torch release), so its data lives here; the
# tests check its digest against the package's.
_LOG_WMSE_FILTER_IR_B64: Final = (
    "eNotm3dcE1sahgEr9gKKooKoCCInZAYysaBiodi7IqIooKIIiJWi0jtIFSyAKNhzMpCMkgl2saJiL9fee1dQRNY37B/7"
    "u3vv3lVMZs75vvd9Hovj7qRziDsN7T6HxF1xp7vWziHVfedQ0+o5ZFbEHHpuoAe5e3MOFRI9SMhAD1r40oNExnnQ0BFz"
    "ybNHHvRW/lxiPGQuraydSz5kzKV57p7E4N1c6ix4kjEunnRjp3kkp9CTpq6YR8rqPOnsK/PIlenz6AHJfNKSn0fvpc4n"
    "Xm3nU5N384nN4vl06kQvMvzUfNpU4UX0zLxoQZsF5G6YF1UGLCA/73hRj0sLiBW3gD6yXUgW5S6gvVMWkuPfFtDorwvJ"
    "+ikLKZniTSz5hXSi4E0OtfOmQ7r5kM7+3vRFqA8ZUeVNzzzwIQOID30/3JccSPOhg3f5ktcffWh2i0XEYrIvfeW3iKxV"
    "+dKvFxcRrckiul+ymIxfu4iey1tMxt1dRJ//WkyiRiymHecvIa5Fi+nHyiWkrtkSetrajxgsW0IXp/uRBdVL6Lrv//5e"
    "5kcveCwl6m1+9OuJpcRTfymVWy8j1ouX0pHpy0jLq0up5fdlpEG+jLIe/sRy5zL644Q/MW3jT4OtlpN5q/3pp03LyZlH"
    "/jTt53LS4LacTp0fQEwPLadjKwNI9z4BNGxAIHmVHkCX5ASSlXUBtGl9IGm9NJDO9Q4ife8E0upLQeTgmCD61n4FyS8P"
    "oqe2riCVViuoSdNgEpO7gpKAYHLOMJi2uBlMysOD6XrHlST0YzA13b2S3PNeSRVtV5HgOytp+qpV5M3EVTTg4SpicnIV"
    "veGymhQOWk1b0NXESLWajjJaQ3barqE7w9eQ5JI1dMLzNWRXr7WUmbSWFOWtpWXCWtLGeB0d03Md6ZW1jt6KWkfYjiH0"
    "4Zt1xDEjhNZMDiHf24bSwWIIid0USoeYh5Kp7cPosrhQ0pAVRks/hpK5RuG0YHoYqcoLp/raMHK313r6yDyclO1a/+/5"
    "DCfUegPVex9O2hzaQB0nrycqx43U99B6EnVuI0003UDeWkfQrxs3kJzACGr1YgPROxRBQ9w2ktC/EXTMwY2kanQkLTSM"
    "IKqUSHp5cAR5ejOSNl8eQbzMoujV/Ahy1i+Kel6OIC/VUVRPL5L0aYii86SRZMq4aBq2IJLE50XT8ZmRxPZ5NN19MpIs"
    "ZWOo79dIsicihjr1iSI/L8dQ7+lRJKVnLO0eHUUsgmJpUWkUuXE0lvo/iyKa9nGU6xhN+iyMo6ucoomREEc/BkQTi5bx"
    "9E5+NKnwiKftLkeTy4p4mlgfTaINEqiBbQyJm5lAI+fGkF8HEujWhBgS1iyRvhRiSNO5iXTKixgysDSRDjOOJbmGSfSp"
    "Uyxp751E7wfEEqeKJDqtIJbYGyfT0RdjiTowmR7/FUsmn0+mZ6ziyJi+KXT+zDjScWMKVcXEkfP/pdCq0jiilafS44/i"
    "iCwnlb5sF09cv6TSqY7xpNmkNNrBP550UaTR6VviyYs2m2jy2XgyfukmqqyNJ4vPbqJjrBLIsP7ptHxmAgmIS6cj4hOI"
    "w8t0Kh5KIM/HZNDwVwnEdHcGdemaSH43y6RZbomknW8mTQ5PJGtOZ/573hLJrb5ZdMbTRNI8Oos6GycR7fMsOtgtiRSO"
    "yqan1yeRxbuyqbU6iQTr59Bt75LIeK8c6mGRTCYczaHHPZLJMdPN9El2Mrkcspm+uZJMwm/9+/tWKWQpk0vLXFLI1bRc"
    "+is2hdS8yaVjT6cQOiqPZjVPJYn5eTTeOZU8/JlHZUmpZMzELXTJlVQSVLKFpndJI/1/baE289NI3sSttMO+NLK1aCtd"
    "/iON+H7bSluN3ESmj95GLbI3ES5jG/V4uYk8fLiNPh2cTsoGbKelGenEP3g7bXifTqLE7dTPNYNENmyn1XsySLNR+TS9"
    "ZSaJicmn75Znkjcn8+mIG5nkql4BjRieRZrIC+hRmkUeBRZQ917ZZH5JAW2TlU163yqgsjY5JLZpIc2MzyFTJIU0sOVm"
    "EjirkBYlbyYHwwppjVEuGbatkB4pyiU7NIWUt8sjI64XUrOzeaThdSF9Mm8LuV5XSMfVbyH1hjto1o6tZHbHHXTV2G0k"
    "qMsO2rNmGxn676+DDmwnJv/++V7vfBLUYgettSgg+rWF1PBFAcl7WUj1aCFxv1RIF27cQTwVhdR8RhGZkVhIzzI7idP8"
    "QvrWaBfJsyukB+p3kfu/C6jHx2ISdKyAZrwoIT/CCij7YjdJZgvo8Ld7SJvn+ZSr3UuWp+ZTh7b7iYFdPj1qfYAoLm6n"
    "0kkHyRyv7VQZqiCrPmyjbykllau2UcP3SmLxZSt1k5YSryVbqW1EGZl5awtdcVNFjg/bQq8wAnErzKOuWw+Rsd9zaUbb"
    "crJ2RC5VJ2pIWuxmWtJaS0afzqEL8iqI4a9sGkeOkpq+2TSn6hjZNjaLmq8+QW54Z9KN1qfI99UZdNLz02TxxnQasv8M"
    "ab9hE/0cdo60WZNGa6ddIMY+qVQtqyIH3FJo736XSf9+ybSqezUx/5VIR/W8RrYfT6A3rG6QrlHxlHW8RRwHx9EFc+6Q"
    "Ge9iqCTyHinJiKZeqvvkGYmiAR8fErfTEVRkn5D67RtoRvQzMrI4jEbde0Fm5K+jIfLXZGXyalpZ+JYELAymCzt+IAED"
    "A2nT5E+k7tUyur7NV9I2Ywmdnfed9LLzpf/1ryGnTi6gjsd/kRC3eTTD6w/JPDqHjmrRQLaSWdTkrp6kJGcaTWYMJC7v"
    "J1FFWhPJ8uHjacH7ppLOya7UY0JzScLl0bRU2UIS1daJCp0NJU3HOlK6rpUkI3IQrXvUWnJR7UBvubSV2L2RUqmyneRe"
    "b0KPdekgOeQxgDpt6ChJyrWk3i86SdLuWlDFWCOJq6UZbU6NJeXhpvRM+66Sgntd6YVAE4ntSCN6vqqbZOmRDvRZP1NJ"
    "e7e29FNID8mnD4bU9HxPSVRxc6owMpM4BzShb9zNJaHuenRdXm9Jt/LfijXVFpIpLX8o/v7tI5mQ/0nhatlP8jT0rWL2"
    "aEtJ9a4XispZ/SVJ0ieKTC8ryQCTBwpzT2vJNp+7ip8TBkjKut1SaKU2kilO1xVc84GSOS+qFd+qBkq8WlxRrIqylRw/"
    "fEnxzpJIrn2tUlwQiWTf+SpFyCCJZLXLJcWRYolEP+iyIvK3RLLGuVphONhOMunRNcWNBXaSD4NuKQxX2EnWL7qnCFn0"
    "758veqT4PcJO8mzSC8WIeolELX2vKNkukcz8803xrqdE8uXCH0XkeiJ56d6EumltJSvutKQeNwdKAt+1owkXbCTfc4yp"
    "09YBkvhHPeghJ2vJrot9qdPx/hIbb1u6ubOl5A+V0W6D+0oWK0fQQNZCMjpwHN1cZyZZUzuTHsvsKclz/jc31XSXpPoF"
    "Udv+JhJx0Qba1txY0mFXHJU87igZH5tGaxa1k2Q92kzv8K0kyUIh9TnSXOLZch/NTzaQmDwooybkD9kz+Ag1O/qVWPY+"
    "R2+cek1+5lyntUMekqZbH9Esi+vE3OE9/bDyLLm66Bf9OkBLirc3UeaMouTVjVbKgIod5OX8Tsq4TZmkZFh35V8xmnxa"
    "aaG8GrCEfNC3UQ5q6Uo+vGaV/kMsySYbR2VhgwHZfdFZ+SG7wnZS1WTlNg8vW1NbD6XwKWrg7C++yroBZw+27b5C+XBD"
    "vOLp/nBl/6WPFdcmxyhXOveihlFJyqqmEyn3Ol35038jLYvNVe4as4XudC9QvlGq6F3fEmVR3WV6fv9BpdLqHe1irVYO"
    "7dVUuemJVqkw7axce+OUcn6KhdJVv0qpDWaUEUtvKBOrRypd2j9Qti2Zpsz9/EIZ9tVHeabdJ+WK8jXKkX61yuiwGGWm"
    "nj7vcTtV+edtM35LUK5y7vdWfIRzkdK6Rwfe0/2AUrPQmP+7V1AeP9udP2R/XNllnDnfv/6C8un7fjyrf0u5+6ANf3vE"
    "E2X/JCk/SvteOTGW488F1iq98x35c8SAl10bxVuPbMlr+ozlY1e044X0yXyp1og/bjKLzzc35SdpPXn3wt788bU+/FTO"
    "im8/YRkf/4rwSwYH8wOVDrzn8BD+YupQ3t42greKHMWbVUbzeolj+V6L4/kexVP49Z2S+erq2fyyM2n8i7Ze/NKoTL7G"
    "fTGfPGYzH6gK4E3bb+UnmazhOzzM563i1/Pq0iK+7cYo3iSxhN/qGMd39N7Hd/2byKcMU/ATj6XyAd1L+QURGfzeH2r+"
    "4fAcXrxczqf+yePziyt4ibCd16w+zpss2cEnjjjNf+9czH9sco4PP7yH/3vkIl8y+QDPLr/C1z+g/P321/mnnmW8U/Et"
    "3uKywNta3ePNbDV8260P+AvrKvjymse8ofIYbzr8Of/g0km+Q8Ar/ve1Sn5W1Fu+QXuO3xDygS+Ku8ibT/nM+9ld5v82"
    "/8bfO1TNt8v7wXfrep2v16/ld0y8yVc7/ebD5tzmj0z/w1/j7vLnuL98/rN7/KtXDXzlnPt861K9Uqd/v+eKKfqlfgUP"
    "+djr+qXE5xGf6mBQevfVI75ytUFpfb/H/KJMg9Lmpo/5bYkGpa9PPuJnuRuU/uj2iD/XoF/ar8dD/n6ofuncyvv8+nN6"
    "pWs7/scPuNTAm/25wz8pqec/R9ziVV3q+KBt1/mRprW8q0s1f51+51dtrOKLqz7za4af478Fvucdok7xj7Ne8T9GHuVH"
    "sU/54PBy3sLtPr/buowfXH2TZ8Yc4IeeuszfPr+Lv9PjLM+UbePX3j7Kr6nN5Es+CHxYbiKvcT/IL+i0ka833skPTvfj"
    "D/bI5WO3T+VLFyfzMTaDeatn6/lQqTl/d7E3b7yzKR8/xYUPeHpZaZ1tzZN+GUrbPq145pWZcujzq8onTirFxdfJSssz"
    "34nVmqZKn1mJErcXKtu6GXclRoMGSTS7utj9+VUqebpzpN2mw83stqiD7IYk29sNXZludy3G127mzn12S2en2A35eMru"
    "fts9dh08H9nFvzlpJ/tRZ2f55ZHdiodtpPts/tp5e/aQLr/STuoUOlDqaWUmNZU7Sg/3sZMab50oVZ52ktrt8pK+aDtd"
    "ajBzpXSIwWLpf3OipaeKQ6WrF6ZK9cPjpdJTudLZDRnSmRt2SoUH26UDchTS4SZ7pU9aaqSOvEq6795p6fndx6R5ra9K"
    "a/9clB7d/kBaqboj7b7prdS26oU04lmNtLnLN2nAJQMmJVOP+XjPkMlQtWC2d+/IPGjenjmcYsLwKV2YVKk5M21ML8bF"
    "0Ip5amfJ6BnZMUGTCHN9ipwxKpIxJ06OYK72G85UL3Jj0h+4MFcdpzIW5yYz6S4ezJQX7szzaB/mib034/d1ObPokD9z"
    "InMtE+K3hrEvi2AqLSOYRapY5q9dLJNflcS0nZbERNdvYpJTNjFbxuQw9fezmZXFW5nXo7Yykd12MIePFzI2xSXM5akl"
    "zKVRB5jwX/sZWsMzrdU80+nYIWZ/5CGm55YKZu2CCuZZzEkmaupJJjjyHHNj2jmmMvUyM9HnMlO29wZzIeoG0/rqPcaI"
    "3mOymz1hqp8/Zl6PfsXs7feKKUj9wJgEfmCsH35jUo99Y77b/2Z8jX8zfV312ABOj7VZ24Rt69uE3b67Obs5szm7/qYh"
    "2/yYIVth0JZ1edOGHWnbgeU6dGBfTOvM7mc6sytWd2G9J3Vhi9K7sUa+3djexT1Yn+AebDo1Y9+sNmPDqQVrFWDBLtzZ"
    "j81x78fSBCs2T2bFHp9vw8Y1sWGf9yPszqO27LS7dmzPRXasfB3Ldq1l2D16MrYg2IHdGyRn6XWOHXhmMCvtNpg1ahjK"
    "/h4xlLXqNpy95DqM7dfJiXUnI9gDr0ay3CcndnzuaPZ9wig2rpcz+752NHsk1IXNHOrMuuxzZS2nuLAee9zYe6wr2z94"
    "LHvpiSsrNh/HNp3txnZcOI4NynJjO0WOYz+mu7HJXuPYURPc2EH1Y9lula7s0Wlj2TY/XNhiLzc2/64z62vuyjoEjmEX"
    "bHJmbcpGsff3jWbLC5zY1v4j2ZbS4Wz7a8NZW9+h7KvbQ1lTbhAbETKILd3pwGrKHNiqXVLWbaOUNZLZsu/uDWSZGVZs"
    "vxP9WfrHgo23tWANrXqyoaY92MxrXVjXOGN2c017drhfO9YrsyWbeKw526RAj01sWc8Ms/nM/PB5x7i8fsDYJ91hOvtd"
    "YIwCTjOTdgnMiOZKJiGlkBnumsf4dk9gQq0jGBo9jxk9bAJj9MWa6ebYlZl26bn0cnCF1GzofOnnVS2lJVlHlDeXv+GL"
    "T6WWPg89VhrQv3WZ/95+ZZHXp5alNQssK/qbVpb7I79spuehshfcmbJxGY/KOs/4XPZ9ajPVlIHtVKOum6oeWvZT2U1i"
    "VQ/NHFX+VeNUD3rMVK2Z7KvK7ROkav9ko6pie6yq6kSqyrAsS3Wm13ZV0PSdqhGtDqgK40pVl+JEFRl3QmWSe0F1vfiq"
    "6pjjf6rmm5+qHNa/Vw3p/V2lN/uvKrpvE/WYJS3Vd+PbqBO+d1SfGNJF/f2qqdrLyVy9S99SfWTLAHVqjJ368RgH9UmP"
    "IerDziPUFgnOai5/nDq31VS11dhZ6ufPPNVzJnqr7xstVSfsD1R3KVijHjU/XN3teKQ671CM+pFngnru0mR1itUmtdm4"
    "TPV0883qNu5b1FPG5Kvl2TvUm3OL1aV/9qj7dz2oDs5Uqv+cUqn9ZxxW1+Vr1evHHFP/KT6lXrnwrLryzkV164NX1IaD"
    "bqh/9r6j9q+8rz516rE6Yv0LtUHGG7XW66PaPPGrOiGgRr3uQJ26xzQ9YW+YgRDZpJnw3qGF0OScodCuaRvBckc7If1F"
    "B2FRcmfh+V1jwSrRRFj2uLtQlddTCKs1E3ZoLATP3v2Ep2/7C2PmDBBO2tgKHjslgmcYI5TX2gtn73DCgrmDhdqRjsK4"
    "quHCg/KRwkyXMcLUQa6Ce9VYodepCYLhnMnCp+nThM6fZgi+H2YLhkkeQpvkeYK/9QJh1kAfYcfFRcKOK35CXYC/YL8y"
    "UBA7BgtDjVcLdaVrhWuqUOHihPVCiGWEkLYiUnD6FCU84WIES1WscLQ2TvgblCD8KEsUsvsnC66+KcLOm6nCsnabhJsh"
    "6UJTRYZwsVOWsGd4ttCxMEd4cHqzYNkzT+g+ZIsQmrxVqNyxTVjyervg8D1fGMEUCgp2hzB0cZGwwHOnkBC7S1gZWCw4"
    "JpcI3xbvFhas2SM8HL1XeD16n2DedL+g/r5f2LTrgJAdfVD4Yq4QRn5SCDUhVFjkoBRGHFQK2dN4YbrAC+NdSoX9maVC"
    "TdsyocipTPhYXCbEHSsTggxVQtq//+yXq4T7PVTCIYlKiPhZJmS/KxOWZ5UJUr8yIfFzqbCwpFTY1qpUeLedFzwfKoWQ"
    "8Uph+RIqbOMVwuySg8K1ygNCWsZ+ITVhnxBsvVcw+bFbcPErEcQWxYLLhJ1CasUOIeFqgaBony90/rpVaFefJ9zav1nI"
    "j8gW9tdkCL02bxJm3UgRpg1KEpKGxgtPfWOE/2wihQISLuQOWS3YZwYIOaaLhUkf5gtBH2cJa2WThYL9LgLrM1wIcZYJ"
    "Z/xtBdfyPsJc5+6C+c/2woOXzYSodz/UYxMeq9vOOa/m95SpO/bZqjbvGqX+b+Fk9ZConurjRy+pTkaNVp342ZxJHxXF"
    "dllax7quGGSv6hli36l+m/2EZUfsX6x6aG92Ss/BwbSTw5Cwvg6DDsocXN+4OfT7Ndeh3mSFAx8X5fC9VarD+NBch2Or"
    "dzoM9VQ4nLpW7mDpcNrhdP9qh54t7zscCH3tcP6/7w6Fr/VkDXNayPJM2smGXTaSWVWbypIuWMi4TgNkqqlSWdgTuSzc"
    "b4Ts2ghX2ZGOk2W/mdkyk4leshxxiWx87xUy93shsp/OkTKfC7GyweOSZMzPNFlpQZbs8oo8WfrIfNniYTtltdweWUfP"
    "g7L6jaWyJ5cPyRSmFbKH2SdkDa3Pyn4pq2Rvp1yTdex9Rzbo4wPZ39fPZBVP3sjCW36WDbD9KWMj/shyluhzi/Y25Sxe"
    "teC8HFtzYZntOKeGjtyNpcYc89GEmxTUg/NoZc612dWHq5rWn+vRxIbLvkC4sHSG2xsg4yzHDebqhw/jDNiR3JphztwX"
    "l7Hca7+JnDZxKmd6ciZnVTuHq3Kez73M9OYKaxZzW9z9OfsbQdztcas54/shXA+/DdzC+Ehu5Z1o7rJDHOeakcA1+ZXE"
    "qealckXVm7gZIzK5wRXZnNYhl/PSbuFWDNvO5Vwq4D67F3Hjvu7iSuJ3c2+t9nFfzxzgLgZRzqprKSc/r+Li1h7ifKQa"
    "btArLRe69yjn7XuCS7I9zTX7coZLP3aeM06s4oI9r3BLB17j6pvd5E7dvc09O3yPO7fpAVex4jGnN+EZp8e85K61f8MZ"
    "1rzjEm995Nof+8JNKPzO9U2o4Xos+c0NmVzPLeuqJ09L0pdvqTWQy5Y2lc+71Ux+dUwL+XJlS3mLHq3kPlGt5f7v2sgv"
    "TGgnDy9rL+/UoaO8MLCTfMvZzvL+vY3lu4O7yKdWdpX7t+8md5nTXd5yu6nc9GEPeWyXXvKqiWbyu+Hmcrf9veVvqizk"
    "gR/7yBOb9pO37GYpD+/dX361v5U8tLe1PNRkgHyAgY18z2sbuc2JgfIvObZyo7lE/ranRB5ULZGbbrCTnzOVyg3VUvn2"
    "IYzc4QgjD7Rl5T1zWbn2IysfOtxe3hBuL++kspeX3fz318/28ok/7eXab/byKfft5dFae7lNrL380Wh7+aR///6gVFZu"
    "bczKGzIYuVmNVJ44WSqPyLCT9z8jkWc8IfI2n23l0c8HyudftJH75g6Q95hhLTet6S83SrKU++v1k9cs6iN/qewtt3tt"
    "Jr+h30v+3rCHfNTXbvIO57rKX4cby616dZbb5HeQL27RTm4wsbU8Z0NLuUFSM3mzDQbyDZv/cn0barjSLl+4/r/ecKfi"
    "nnIV/93jNLevcYNyL3ARv05wpqYarvKekvObsZsz89vOmbKZ3Mv0eK7FiBBODF3IiW3HcYtKGc5zZzfOxq5B9rjgvOxK"
    "fYZscIZUVjJxmcNLw/XC68eOh6qb7jj0dO2zQ/4+RodfuMkPHxjgefjn/sjDc0bnHN6WuO+wcvbRwy3vXT/c+t2bw9wc"
    "vfJIwzbln7qalMev7FuuL5WW/3AcVj5BOa58YLB7+c5ti8t9TdaUV2+IKr9kmlRe+SGjfNvbLeXNe+4szwvdX27aTlX+"
    "qkpbfuLE6fKKJ5fKD3G3y9eWPy7/FvC2PGXS9/LZvn/LnaY21bRKMdT8udtOU+ZkpPle0U2zdIqZRlvbV7O1fIAmK8lO"
    "s3yVTJMVOFTzOHKkZkexq+b6g4maQssZGptYD03s1wWamlVLNGHNAjVJ+1dr2niGa65mRGq21MVo3AITNNPfJGuGL9+k"
    "CavJ1JQmb9ZMs9yqsbuYrzmypkjzbWCJxu3tXs2rsoOa8dG85uJ8tebL6HKNE1ehmc4e1zxyPK2Jn3ZOw4VUaYoOVGve"
    "fLqhuTTyrmbvvgea0b2fauyVLzUTJr/TzG71WWN/77vmWeUvzZgLfzVnf+qLUzY3Fb84txC7tmgltrrXRpQdbS9+PdRJ"
    "3HnSWKTPTcRlpj3EiUvNxNwrFuK5iZZis5fW4vU8W3GIr1Q8PtFBHDNtkDhmjaO4XnASZxk5i17pY8VPAyeJs19NE++d"
    "nC0mVniK8bcXioUdlohXly4Xtz4NFq+ErhPzJRvEm/pRovevGFFoiBejOyWLn5g0MWJehui4OVsMuZ0r9u6zTZy5pkB8"
    "fbVIPMWUiEVb9opDmhwU2SCl2PFBmegz9pAYr9aItaZHxLfhx8Wrt0+JWquzYvegC+KDfZfE8FvV4pUv18V5f26JX77c"
    "FW2u3xcvbXskFo1/KgY8eS5KPV6JJ4Q3osfXd+K3Nh//fQafxef3v4jO6d/EzJ4/RPP4n2LK+Rpx/6tacfHDX2L/0t8i"
    "41knJr6sEx+O/SP+l/ZH3Mv/EUuEP+Ka7X/EYcv+iH16/xE7V9aJFTPrxAcPfov75/wWxZu/xNOTfonMtVpx6Lxascff"
    "GjFcVSPOT6wRr0XWiDl7a0R9vVoxIrtW3LHklzg38bc481edaHCmXnz/pUEMHKOvzTpvoJ2X0lR7JK25lr/dUntlcWtt"
    "M+d22lXBHbV3vxlpT5430e763UM7Nba39mGgpXZMuY3W2EeqnRjEaV8+cdQeVY/W9vowTnsgdpr2daSHtvd/3tqO2f7a"
    "7OLV2vR2G7V2PjHaFL9EbWVGmrbufpb27Ogt2hfnCrQdFhZrC9rv1846r9R2TRO0adO12h/dT2iLbp3Rvoup0s7tdk2r"
    "l35b++vufW3Qlyfa2adfaqVj32lv+H/Sjjf/pvV3+6mV3KnVXjzwW9uTr9P+OFqnHXrit7ZPaq32v9Y/tMONPmv7bn6j"
    "1V/xRNty923tV+sqrbvZMa3jTl47sk2R9vzhdG3WpIh//32Blj4frS1eRrQV1ebaGjczbWBboh1tPkW770icNldQaf1r"
    "v2inFPau+H5wesW+fokVjsMUFVd+3KzIHKx/ZKG7yZFBGnLk4Y7BR67XFVUYLzszbN/V0cPxV/w9/jn+d/x7+Pfx/8P/"
    "H78Ofj38uvj18fvg98Pvi98fPwd+Hvxc+Pnwc+Lnxc+Nnx9/Dvx58OfCnw9/Tvx58efGnx+fAz4PfC74fPA54fPC54bP"
    "D58jPk98rvh88Tnj88bnjs8f3wO+D3wv+H7wPeH7wveG7w/fI75PfK/4fvE94/vG947vH88Bngc8F3g+8JzgecFzg+cH"
    "zxGeJzxXeL7wnOF5w3OH5w/PIZ5HPJd4PvGc4nnFc4vnF88xnmc813i+8Zzjecdzj+cf7wHeB7wXeD/wnuB9wXuD9wfv"
    "Ed4nvFd4v/Ce4X3De4f3D+8h3ke8l3g/8Z7ifcV7i/cX7zHeZ7zXeL/xnuN9x3uP9x/nAM4DnAs4H3BO4LzAuYHzA+cI"
    "zhOcKzhfcM7gvMG5g/MH5xDOI5xLOJ9wTuG8wrmF8wvnGM4znGs433DO4bzDuYfzD+cgzkOcizgfcU7ivMS5ifMT5yjO"
    "U5yrOF9xzuK8xbmL8xfnMM5jnMs4n3FO47zGuY3zG+c4znOc6zjfcc7jvMe5j/Mf9wDuA9wLuB9wT+C+wL2B+wP3CO4T"
    "3Cu4X3DP4L7BvYP7B/cQ7iPcS7ifcE/hvsK9hfsL9xjuM9xruN9wz+G+w72H+w/3IO5D3Iu4H3FP4r7EvYn7E/co7lPc"
    "q7r79d89i/sW9y7uX9zDuI9xL+N+xj2N+xr3Nu5v3OO4z3Gv437HPY/7Hvc+7n/MAZgHMBdgPsCcgHkBcwPmB8wRmCcw"
    "V2C+wJyBeQNzB+YPzCGYRzCXYD7BnIJ5BXML5hfMMZhnMNdgvsGcg3kHcw/mH8xBmIcwF2E+wpyEeQlzE+YnzFGYpzBX"
    "Yb7CnIV5C3MX5i/MYZjHMJdhPsOchnlNN7f9m98wx2Gew1yH+Q5zHuY9zH2Y/zAHYh7EXIj5EHMi5kXMjZgfMUdinsRc"
    "ifkScybmTcydmD8xh2IexVyK+RRzKuZVzK2YXzHHYp7FXKubb1WN8y7mXsy/mIMxD2MuxnyMORnzMuZmzM+YozFPY67G"
    "fI05G/M25m7M35jDMY9jLsd8jjkd8zrmdszvmOMxz2Oux3yPOR/zPuZ+zP/YA7APYC/AfoA9AfsC9gbsD9gjsE9gr8B+"
    "gT0D+wb2Duwf2EOwj2AvwX6CPQX7CvYW7C/YY7DPYK/BfoM9B/sO9h7sP9iDsA9hL8J+hD0J+xL2JuxP2KOwT2Gvwn6F"
    "PQv7FvYu7F/Yw7CPYS/DfoY9Dfsa9jbsb9jjsM9hr8N+hz0P+x72Pux/2AOxD2IvxH6IPRH7IvZG7I/YI7FPYq/Efok9"
    "E/sm9k7sn9hDsY9iL8V+ij0V+yr2Vuyv2GOxz2KvxX6LPRf7LvZe7L/Yg7EPYy/Gfow9Gfsy9mbsz9ijsU9jr8Z+jT0b"
    "+zb2buzf2MOxj2Mvx36OPR37OvZ27O/Y47HPY6/Hfo89H/s+9n7s/8gBkAcgF0A+gJwAeQFyA+QHyBGQJyBXQL6AnAF5"
    "A3IH5A/IIZBHIJdAPoGcAnkFcgvkF8gxkGcg10C+gZwDeQdyD+QfyEGQhyAXQT6CnAR5CXIT5CfIUZCnIFdBvoKcBXkL"
    "chfkL8hhkMcgl0E+g5wGeQ1yG+Q3yHGQ5yDXQb6DnAd5D3If5D/IgZAHIRdCPoScCHkRciPkR8iRkCchV9LlS34lurwJ"
    "uRPyJ+RQyKOQSyGfQk6FvAq5FfIr5FjIs5BrId9CzoW8C7kX8i/kYMjDkIshH0NOhrwMuRnyM+RoyNOQqyFfQ86GvA25"
    "G/I35HDI45DLIZ9DToe8Drkd8jvkeMjzkOsh30POh7wPuR/yP+SAyAORCyIfRE6IvBC5IfJD5IjIE5ErIl9Ezoi8Ebkj"
    "8kfkkMgjkUsin0ROibwSuSXyS+SYyDORayLfRM6JvBO5J/JP5KDIQ5GLIh9FToq8FLkp8lPkqMhTkasiX0XOirwVuSvy"
    "V+SwyGORyyKfRU6LvBa5LfJb5LjIc5HrIt9Fzou8F7kv8l/kwMiDkQsjH0ZOjLwYuTHyY+TIyJORKyNfRs6MvBm5M/Jn"
    "5NDIo5FLI59GTo28Grk18mvk2MizkWsj30bOjbwbuTfyb+TgyMORiyMfR06OvBy5OfJz5OjI05GrI19Hzo68Hbk78nfk"
    "8Mjjkcsjn0dOj7weuT3ye+T4yPOR6yPfR86PvB+5P/J/9ADoA9ALoB9AT4C+AL0B+gP0COgT0CugX0DPgL4BvQP6B/QQ"
    "6CPQS6CfQE+h6yss++n6C/QY6DPQa6DfQM+BvgO9B/oP9CDoQ9CLoB9BT4K+BL0J+hP0KOhT0KugX0HPgr4FvQv6F/Qw"
    "6GPQy6CfQU+Dvga9Dfob9Djoc9DroN9Bz6Pre4411/U/6IHQB6EXQj+Engh9EXoj9EfokdAnoVdCv4SeCX0Teif0T+ih"
    "0Eehl0I/hZ4KfRV6K/RX6LHQZ6HXQr+Fngt9F3ov9F/owdCHoRdDP4aeDH0ZejP0Z+jR0KehV0O/hp4NfRt6N/Rv6OHQ"
    "x6GXQz+n6+kSRul6O/R36PHQ56HXQ7+Hng99H3o/9H/oAdEHohdEP4ieEH0hekP0h+gR0SeiV0S/iJ4RfSN6R/SP6CHR"
    "R6KXRD+JnhJ9JXpL9JfoMdFnotdEv4meE30nek/0n+hB0YeiF0U/ip4UfSl6U/Sn6FHRp6JXRb+KnhV9K3pX9K/oYdHH"
    "opdFP4ueFn0telv0t+hx0eei10W/i54XfS96X/S/6IHRB6MXRj+Mnhh9MXpj9MfokdEno1dGv4yeGX0zemf0z+ih0Uej"
    "l0Y/jZ4afTV6a/TX6LHRZ6PXRr+Nnht9N3pv9N/owdGHoxdHP46eHH05enP05+jR0aejV0e/jp4dfTt6d/Tv6OHRx6OX"
    "Rz+Pnh59PXp79Pfo8dHno9dHv4+eH30/en/0/9Y5Ch0PAC4AfAA4AfAC4AbAD4AjAE8ArgB8ATgD8AbgDsAfgEMAjwAu"
    "AXwCOAXwCuAWwC+AYwDPAK4BfAM4B/AO4B7AP4CDAA8BLgJ8BDgJ8BLgJsBPgKNwfaGyBVcBvgKcBXiLp04qBfgL6Ssz"
    "HY8BLgN8BjgN8BrgNsBvhEnNdTwHuA7wHeA8wHuA+wD/AQ4EPAi4EPAh4ETAi4AbAT8CjgQ8CbgS8CXgTMCbgDsBfwIO"
    "BTwKuBTwKeBUwKuAWwG/Ao4FPAu4FvAt4FzAu4B7Af8CDgY8DLgY8DHgZMDLgJsBPwOOBjwNuBrwNeBswNuAuwF/Aw4H"
    "PA64HPA54HTA64DbAb8Djgc8D7ge8D3gfMD7gPsB/wMOCDwQuCDwQeCEwAuBGwI/BI4IPBG4IvBF4IzAG4E7An8EDgk8"
    "Ergk8EnglMArgVsCvwSOCTwTuCbwTeCcwDuBewL/BA4KPBS4KPBR4KTAS4GbAj8Fjgo8Fbgq8FXgrMBbgbsCfwUOCzwW"
    "uCzwWeC0wGuB2wK/BY4LPBe4LvBd4LzAe4H7Av8FDgw8GLgw8GHgxMCLgRsDPwaODDwZuDLwZeDMwJuBOwN/Bg4NPBq4"
    "NPBp4NTAq4Fb0/FrgbU6ng1cG/g2cG7g3cC9gX8DBwceDlwc+DhwcuDlwM2BnwNHB54OXB34OnB24O3A3YG/A4cHHg9c"
    "Hvg8cHrg9cDtgd8DxweeD1wf+D5wfuD9wP2B/wMHCB4QXCD4QHCC4AXBDYIfrPXfqOMJwRWCLwx27kXBG1otfazjD8Eh"
    "gkcElwg+EZwieMU8Dy8dv/gxu8IWPCO4RvCN4BzBO+q4R30bHQcJHrJBjNbxkeAkwUuCmwQ/CY4SPCW4SvCV4CzBW2Za"
    "XNfxl+AwwWOCywSfCU4TvCa4TfCb4DjBc4LrBN8JzhO8J7hP8J/gQMGDtjE3lmgXbdBxouBFwY1ucfbWcaTgScGVgi8F"
    "ZwreFNwp+FNwqOBRwaWCTwWnCl4V3Cr4VXCsQe/a6bhW8K3gXMG7gnsF/woOFjwsuFjwseBkwcuCmwU/C44WPC24WvC1"
    "4GzB24K7BX8LDhc8Lrhc8LngdMHrgtsFv/vWkkhOHL6kWB1lK5nf4oqO8wXvC+4X/C84YPDA4ILBB4MTBi8Mbhj8MDhi"
    "8MTgip+FvtVxxuCNwR2DPwaH3L38twJccpi7Hn3tbq7jlcEtg18GxwyeGVwz+GZwzuCdwT2DfwYHDR4aXDT4aHDS4KXB"
    "TYOfBkcNnhpcNfhqcNbgrcFdg78Ghw0eG1w2+Gxw2uC1wW2D3wbHDZ4bXDf4bnDe4L1pWhMd/53EGEh250zTceHgw8GJ"
    "gxcHNw5+HBw5eHJw5eDLwZmDNwd3Dv68WfInHY+u49IXBus4dfDq4NbBr4NjB88Orh18Ozh38O6BHx/q+Hdw8ODhwcWD"
    "jwcnD14e3Dz4+ZtWN3Q8Pbh68PXg7MHbm/e7rOPvweGDxweXDz4fnD54fXD74PfB8YPnB9d/0ztTx/mD999cdUzH/8eT"
    "ozofAF4A/AB4AvAF4A3AH4BHAJ8AXgH8AngG8A3gHcA/GBhRpvMR4CXAT4CnAF/hHaU6fwEeA3wGeA3wG+A5wHeA9wD/"
    "QVa7l7R9nq/zIuBHwJP4GdboTcCfgEcBnwJeBfwKeBbwLeBdwL8wm1Gk8zHgZcDP0KeFOl8D3gb8DXgc8Dn2eOfr/A54"
    "HkP/733A/4AHAh8EXgj8EHgi8EXgjcAfgUcCnwReCfwSeCbwTeCdwD+BhwIfBV4K/BR4KvBV4K3AX4HHAp8FXgv8Fngu"
    "8F0ih2fp/Bd4MPBh4MXAj4EnA18G3kxUQ6NHA58GXs3y4EbPBr7Ns8HpOv9mzstGH6d3dqOfA08Hvg68Hfg78Hjg88Dr"
    "gd+T0SVN5/vA+4H/wyU1+kDwguAHZTdP1flC8IbgD8Ejgk+kcmn0i+AZwTd6e6XRP4KHBB8JXhL8JHhK8JXgLcFfgscE"
    "nwleE/wmeE7wneA9wX+a+bTRh4IXBT8qJbzRl4I3BX8KHhV8qrBXjX4VPCv4VsPjG/0reFjwseBlwc+CpwVfK+lso78F"
    "jws+F7wu+F1THBt9L3hf8L/ggcEHgxcGPwyeGHyxeTMb/TF4ZPDJ4JXBL4NnBt8M3hn8M3ho8NHgpcFPg6cGXw3eGvw1"
    "eGzw2eC1/T7Q6LnBd9O3jdH5b/Dg4MPBi4Mfdzu/0ZeDNwd/Dh4dfDp4dfDr4NnBt4N3B/8OHh58PHh58PPg6cHXg7fn"
    "x8bQPScbfT54ffD7Qhc0+n7zpY3+X31Dow8ILxB+IDxB+ILwBuEPXhrc6BPCK4Rf6Hyw0TeEdwj/sP+LRh8RXiL8RHiK"
    "8BV9DjX6i/AY4TPCa4TfCM8RviO8R/iP8CDhQ8KLhB8JTxK+JLxJ+JPwKOFTwquEXwnPEr7lgzeN/iU8TPiY8DLhZ8LT"
    "hK8Jb7O411qdxwmfE14n/E54nvA9m9NG/xMeKHzQwIeNfig8Ufii8Ebhj/bY3eiThjuu1PmlLW82+qaSgEb/FB4qfNST"
    "Wxv9VHiq8FWvXGr0Vz29g3Q+K7xW+K3wXOG7wnuF/+pW2ejDwovVG7tc58nCl/24qdGfhUcLnxZeLfxaeLZ/5ct03i38"
    "21HpjT4uvFz4ud9ONPq68Hbh76793ujzLklv9Hsrrf10vi+8X/i/neYv0fnA8ILhB8MThi98QLJY5w/DI4ZPDK8YfjE8"
    "Y/jGg3Y1+scfhvvqfOTKB41+Mjxl+MpDu/no/GV4zPCZ4TXDb4752ug7w3uG/wwPGj40vGj40fCk4Uvnt1mg86fhUcOn"
    "hlcNvxqeNXxreNfwr+Fhw8eedaXRz4anDV8b3jb87TFCo8+9xd1T53fD84bvDe8b/jc8cPjgO142+uHwxOGLnx3oofPH"
    "4ZHDJ4dXDr88pPscnW9ucdyd1Ju70/8Bt5SHZA=="
)
