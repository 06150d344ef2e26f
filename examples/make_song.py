"""Write `examples/song/`: a 12-second synthetic song and its stems, for `splifft eval`.

Six bars at 120 BPM in A minor (Am F C G F Am): a sung line from espeak-ng, filtered-saw
chords, a plucked bass and synthesized drums, all made here, so the song is free of any
licence. The folder is one MUSDB18-HQ-style track: `mixture.flac` and the references
`vocals.flac`, `drums.flac`, `bass.flac`, `other.flac` (the chords) and `accompaniment.flac`
(drums + bass + other), for 2-stem models such as Spleeter's. Run it with:

    python examples/make_song.py          # needs espeak-ng (apt-get install espeak-ng)
    splifft eval -m spleeter-hennequin-2stems examples/song

The outputs are committed; CI only reads them (tests/test_example_song.py), so espeak-ng is
needed only to regenerate them. Each stem is rounded to 16-bit integers before it is summed,
so `accompaniment` is exactly `drums + bass + other` and `mixture` exactly
`vocals + accompaniment`, sample for sample.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

RATE = 44100
BEAT = 0.5  # seconds: 120 BPM
BAR = 4 * BEAT
BARS = 6
SECONDS = BARS * BAR  # 12 s
SAMPLES = round(SECONDS * RATE)
SEED = 0
OUT = Path(__file__).with_name("song")
BITS = 16
"""FLAC sample depth. The stems are summed as integers, so the sums are exact at any depth;
16 bits keeps the files small and is far below what separation SDRs can resolve."""
PEAK = 0.7
"""Peak of the mixture (about -3 dBFS): headroom, so that no stem or sum clips."""
VOCALS_TO_ACCOMPANIMENT_DB = 0.0
"""Vocal level against the accompaniment (RMS over the song), a usual pop balance."""

Audio = npt.NDArray[np.float64]
"""Mono `(samples,)` or stereo `(samples, 2)` float64."""

CHORDS = (
    (57, 60, 64),  # Am
    (53, 57, 60),  # F
    (55, 60, 64),  # C
    (55, 59, 62),  # G
    (53, 57, 60),  # F
    (57, 60, 64),  # Am
)
"""One chord a bar, as MIDI notes (close voicings around middle C, under the voice)."""
ROOTS = (45, 41, 48, 43, 41, 45)
"""The bass note of each bar."""


@dataclass(frozen=True)
class Note:
    """One sung syllable: start and length in beats, pitch as a MIDI note, what is sung."""

    beat: float
    beats: float
    midi: int
    text: str


MELODY = (
    # "Walk along the shore"
    Note(0.5, 1.0, 60, "walk"),
    Note(1.5, 0.5, 59, "uh"),
    Note(2.0, 1.0, 57, "long"),
    Note(3.0, 1.0, 60, "the"),
    Note(4.0, 2.0, 57, "shore"),
    # "Hear the water calling"
    Note(8.5, 1.0, 64, "hear"),
    Note(9.5, 0.5, 62, "the"),
    Note(10.0, 0.5, 60, "wah"),
    Note(10.5, 0.5, 62, "ter"),
    Note(11.0, 1.0, 64, "call"),
    Note(12.0, 2.0, 62, "ing"),
    # "Hold on, hold on to me"
    Note(16.0, 1.0, 60, "hold"),
    Note(17.0, 1.0, 57, "on"),
    Note(18.0, 1.0, 60, "hold"),
    Note(19.0, 1.0, 62, "on"),
    Note(20.0, 1.0, 60, "to"),
    Note(21.0, 2.5, 57, "me"),
)


def hz(midi: float) -> float:
    """Equal-tempered frequency of a MIDI note (A4 = 69 = 440 Hz)."""
    return float(440.0 * 2.0 ** ((midi - 69) / 12))


def pan(mono: Audio, position: float) -> Audio:
    """Constant-power pan: 0 is left, 0.5 the centre, 1 right."""
    angle = position * np.pi / 2
    return np.stack([np.cos(angle) * mono, np.sin(angle) * mono], axis=1)


def place(track: Audio, sound: Audio, seconds: float) -> None:
    """Add `sound` into `track` from `seconds` on, cut at the end of the song."""
    start = round(seconds * RATE)
    n = min(len(sound), len(track) - start)
    track[start : start + n] += sound[:n]


def fades(sound: Audio, fade_in: float, fade_out: float) -> Audio:
    """Linear fade-in and fade-out (seconds), so that no note starts or stops with a click."""
    out = sound.copy()
    n_in, n_out = min(len(out), round(fade_in * RATE)), min(len(out), round(fade_out * RATE))
    out[:n_in] *= np.linspace(0.0, 1.0, n_in)
    out[len(out) - n_out :] *= np.linspace(1.0, 0.0, n_out)
    return out


def rms(audio: Audio) -> float:
    return float(np.sqrt(np.mean(audio**2)))


# --------------------------------------------------------------------------------------------
# accompaniment


def chords(rng: np.random.Generator) -> Audio:
    """Saw pads through a low-pass filter that opens over each bar, two detuned voices per note
    spread left and right. Additive synthesis: band-limited, and the filter is a gain per
    harmonic, so no filter state or sample loop is needed."""
    out = np.zeros((SAMPLES, 2))
    length = BAR + 0.3  # ring into the next chord
    t = np.arange(round(length * RATE)) / RATE
    envelope = np.minimum(t / 0.08, 1.0) * np.clip((length - t) / 0.3, 0.0, 1.0)
    cutoff = 600.0 + 1400.0 * np.minimum(t / BAR, 1.0)  # Hz
    for bar, chord in enumerate(CHORDS):
        for note in chord:
            for cents, position in ((-7.0, 0.2), (7.0, 0.8)):
                f0 = hz(note + cents / 100)
                voice = np.zeros_like(t)
                for k in range(1, int(16000 / f0) + 1):
                    gain = 1.0 / np.sqrt(1.0 + (k * f0 / cutoff) ** 4)  # 2-pole low-pass
                    phase = rng.uniform(0, 2 * np.pi)
                    voice += gain / k * np.sin(2 * np.pi * k * f0 * t + phase)
                place(out, pan(envelope * voice, position), bar * BAR)
    return out


def bass() -> Audio:
    """A plucked bass on the roots (a dotted-quarter, eighth, quarter, octave-up quarter
    pattern per bar): a few harmonics whose brightness decays faster than the note."""
    out = np.zeros((SAMPLES, 2))
    pattern = ((0.0, 1.5, 0), (1.5, 0.5, 0), (2.0, 1.0, 0), (3.0, 1.0, 12))
    for bar, root in enumerate(ROOTS):
        for beat, beats, octave in pattern:
            f0 = hz(root + octave)
            t = np.arange(round(beats * BEAT * RATE)) / RATE
            note = np.zeros_like(t)
            for k in range(1, 9):
                note += np.exp(-t * (2.0 + 3.0 * k)) / k**1.5 * np.sin(2 * np.pi * k * f0 * t)
            note = fades(note * np.exp(-t * 1.5), 0.003, 0.02)
            place(out, pan(note, 0.5), bar * BAR + beat * BEAT)
    return out


def drums(rng: np.random.Generator) -> Audio:
    """Kick (a falling sine), snare (noise and a 185 Hz tone) and closed hats (high-passed
    noise) in a plain rock beat; hats slightly right, with a little velocity variation."""
    out = np.zeros((SAMPLES, 2))

    t = np.arange(round(0.45 * RATE)) / RATE
    freq = 48.0 + 110.0 * np.exp(-t / 0.035)
    kick = np.sin(2 * np.pi * np.cumsum(freq) / RATE) * np.exp(-t / 0.22)
    click = np.zeros_like(t)
    click[:130] = rng.standard_normal(130) * np.exp(-np.arange(130) / 30)
    kick = fades(kick + 0.3 * click, 0.0005, 0.03)

    t = np.arange(round(0.3 * RATE)) / RATE
    noise = np.diff(rng.standard_normal(len(t) + 1))  # first difference: brighter noise
    snare = 0.35 * noise * np.exp(-t / 0.07) + np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05)
    snare = fades(snare, 0.0005, 0.03)

    for bar in range(BARS):
        start = bar * BAR
        for beat in (0.0, 2.0, 2.5) if bar % 2 else (0.0, 2.0):
            place(out, pan(kick, 0.5), start + beat * BEAT)
        for beat in (1.0, 3.0):
            place(out, pan(snare * rng.uniform(0.85, 1.0), 0.45), start + beat * BEAT)
        for eighth in range(8):
            n = round(0.07 * RATE)
            hat = np.diff(np.diff(rng.standard_normal(n + 2)))  # second difference: hiss
            hat *= np.exp(-np.arange(n) / (0.012 * RATE)) * rng.uniform(0.15, 0.25)
            accent = 1.0 if eighth % 2 == 0 else 0.6
            place(out, pan(fades(accent * hat, 0.0005, 0.005), 0.65), start + eighth * BEAT / 2)
    return out


# --------------------------------------------------------------------------------------------
# the voice


def pitch_of(x: Audio, rate: int, low: float, high: float) -> float:
    """Median pitch (Hz) of the louder 40 ms frames of mono `x`: the autocorrelation peak
    between `low` and `high` Hz, refined by a parabola through its neighbours."""
    frame = round(0.04 * rate)
    starts = range(0, len(x) - frame, frame // 2)
    levels = np.array([rms(x[s : s + frame]) for s in starts])
    lags = np.arange(round(rate / high), round(rate / low) + 1)
    picks = []
    for start, level in zip(starts, levels, strict=True):
        if level < 0.3 * levels.max():  # consonants and the decay: no clear pitch
            continue
        f = x[start : start + frame] - x[start : start + frame].mean()
        ac = np.correlate(f, f, "full")[frame - 1 :]
        i = int(lags[0] + np.argmax(ac[lags]))
        a, b, c = ac[i - 1], ac[i], ac[i + 1]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c else 0.0
        picks.append(rate / (i + shift))
    return float(np.median(picks))


class Singer:
    """espeak-ng's `en+f3` voice with a flat pitch contour (SSML `range='0'`): one syllable
    per note, its espeak `-p` picked from a calibration, then tuned exactly by resampling."""

    VOICE = "en+f3"

    def __init__(self, workdir: Path) -> None:
        if shutil.which("espeak-ng") is None:
            raise SystemExit("make_song.py needs espeak-ng (apt-get install espeak-ng)")
        self.workdir = workdir
        # espeak's -p (0-99) is not a frequency; measure what it gives with this voice.
        self.calibration = [
            (p, pitch_of(*self.speak("laa", p, 120), 80.0, 500.0)) for p in (0, 25, 50, 75, 99)
        ]

    def speak(self, text: str, p: int, speed: int) -> tuple[Audio, int]:
        """espeak-ng's rendering of `text` (mono, at espeak's own rate), silence trimmed."""
        wav = self.workdir / "say.wav"
        ssml = f"<speak><prosody range='0'>{text}</prosody></speak>"
        cmd = ["espeak-ng", "-v", self.VOICE, "-m", "-z", "-p", str(p), "-s", str(speed)]
        subprocess.run([*cmd, "-w", str(wav), ssml], check=True)
        audio, rate = sf.read(str(wav), dtype="float64")
        loud = np.flatnonzero(np.abs(audio) > 0.01 * np.abs(audio).max())
        return audio[loud[0] : loud[-1] + 1], int(rate)

    def sing(self, note: Note) -> Audio:
        """The syllable at the note's pitch and length (mono, at RATE), with a gentle vibrato."""
        target = hz(note.midi)
        ps, freqs = zip(*self.calibration, strict=True)
        p = round(float(np.interp(np.log(target), np.log(freqs), ps)))
        speed = 80 if note.beats >= 1 else 140  # espeak's slowest for the long notes
        raw, rate = self.speak(note.text, p, speed)
        expected = float(np.exp(np.interp(p, ps, np.log(freqs))))
        measured = pitch_of(raw, rate, 0.7 * expected, 1.4 * expected)
        # Reading the samples as if recorded at rate·ratio shifts the pitch by `ratio`; the
        # shift is a few per cent at most, too small to move the formants audibly.
        voice = soxr.resample(raw, rate * target / measured, RATE)
        t = np.arange(len(voice)) / RATE
        # Vibrato as a moving delay: ±0.35 ms at 5.5 Hz is about ±20 cents, eased in after
        # 150 ms the way singers do.
        depth = 0.00035 * np.clip((t - 0.15) / 0.3, 0.0, 1.0)
        delayed = t - depth * np.sin(2 * np.pi * 5.5 * t)
        voice = np.interp(delayed, t, voice)
        voice = voice[: round((note.beats * BEAT + 0.03) * RATE)]  # legato into the next
        return fades(voice / np.abs(voice).max(), 0.005, 0.04)


def vocals() -> Audio:
    """The melody, near the centre (each phrase a touch off it, as if double-tracked live)."""
    out = np.zeros((SAMPLES, 2))
    with tempfile.TemporaryDirectory() as tmp:
        singer = Singer(Path(tmp))
        for note in MELODY:
            phrase = int(note.beat // 8)
            place(out, pan(singer.sing(note), 0.5 + 0.04 * (phrase - 1)), note.beat * BEAT)
    return out


# --------------------------------------------------------------------------------------------
# mix and write


def to_int(audio: Audio, gain: float) -> npt.NDArray[np.int64]:
    """`audio · gain` on the 16-bit grid (as wide integers, so sums cannot overflow)."""
    return np.rint(audio * (gain * 2.0 ** (BITS - 1))).astype(np.int64)


def main() -> None:
    rng = np.random.default_rng(SEED)
    # Relative levels by RMS over the song, then one gain for everything so the mixture peaks
    # at PEAK: the stems keep the proportions they have in the mixture.
    parts = {"drums": drums(rng), "bass": bass(), "other": chords(rng)}
    levels = {"drums": 0.10, "bass": 0.08, "other": 0.05}
    parts = {name: audio * levels[name] / rms(audio) for name, audio in parts.items()}
    accompaniment = sum(parts.values(), np.zeros((SAMPLES, 2)))
    voice = vocals()
    voice *= rms(accompaniment) * 10 ** (VOCALS_TO_ACCOMPANIMENT_DB / 20) / rms(voice)
    gain = PEAK / np.abs(voice + accompaniment).max()

    # Round each source, then sum the integers: the files add up exactly.
    stems = {name: to_int(audio, gain) for name, audio in parts.items()}
    stems["accompaniment"] = stems["drums"] + stems["bass"] + stems["other"]
    stems["vocals"] = to_int(voice, gain)
    stems["mixture"] = stems["vocals"] + stems["accompaniment"]
    limit = 2 ** (BITS - 1) - 1
    assert all(np.abs(s).max() <= limit for s in stems.values()), "a stem would clip"

    OUT.mkdir(exist_ok=True)
    for name in ("mixture", "vocals", "accompaniment", "drums", "bass", "other"):
        path = OUT / f"{name}.flac"
        # As left-aligned int32, which libsndfile stores at any PCM depth without rounding.
        data = (stems[name] << (32 - BITS)).astype(np.int32)
        sf.write(str(path), data, RATE, subtype=f"PCM_{BITS}")
        print(f"{path}  peak {np.abs(stems[name]).max() / 2 ** (BITS - 1):.3f}")


if __name__ == "__main__":
    main()
