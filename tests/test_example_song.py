"""The committed example song (`examples/song/`, made by `examples/make_song.py`): the files are
there, in one format, and the stems add up to the mixture to the last bit.

No network, no model and no espeak-ng: it only reads the committed FLAC files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from splifft_core import evaluation

SONG = Path(__file__).resolve().parents[1] / "examples" / "song"
STEMS = ("mixture", "vocals", "accompaniment", "drums", "bass", "other")
BITS = {"PCM_16": 16, "PCM_24": 24}


def _read(stem: str) -> npt.NDArray[np.float64]:
    data, _ = sf.read(str(SONG / f"{stem}.flac"), dtype="float64", always_2d=True)
    return np.asarray(data)


@pytest.fixture(scope="module")
def audio() -> dict[str, npt.NDArray[np.float64]]:
    return {stem: _read(stem) for stem in STEMS}


@pytest.fixture(scope="module")
def step() -> float:
    """One quantisation step of the files' bit depth, as a float sample."""
    subtypes = {sf.info(str(SONG / f"{stem}.flac")).subtype for stem in STEMS}
    assert len(subtypes) == 1 and subtypes <= BITS.keys(), subtypes
    return float(2.0 ** (1 - BITS[subtypes.pop()]))


def test_files_are_44k1_stereo_flac_of_one_length() -> None:
    assert sorted(p.name for p in SONG.iterdir()) == sorted(f"{s}.flac" for s in STEMS)
    infos = [sf.info(str(SONG / f"{stem}.flac")) for stem in STEMS]
    assert {(i.format, i.samplerate, i.channels) for i in infos} == {("FLAC", 44100, 2)}
    assert len({i.frames for i in infos}) == 1
    assert 10 * 44100 <= infos[0].frames <= 15 * 44100
    assert sum((SONG / f"{stem}.flac").stat().st_size for stem in STEMS) < 6_000_000


def test_mixture_is_vocals_plus_accompaniment(audio: dict[str, Any], step: float) -> None:
    """make_song.py sums the stems as integers, so the decoded files add up exactly: any
    error of half a step or more would be a rounding (or a stale file)."""
    error = np.abs(audio["mixture"] - (audio["vocals"] + audio["accompaniment"])).max()
    assert error < step / 2


def test_accompaniment_is_drums_plus_bass_plus_other(audio: dict[str, Any], step: float) -> None:
    total = audio["drums"] + audio["bass"] + audio["other"]
    assert np.abs(audio["accompaniment"] - total).max() < step / 2


def test_has_headroom_and_every_stem_sounds(audio: dict[str, Any]) -> None:
    for stem, samples in audio.items():
        assert np.abs(samples).max() < 0.9, f"{stem} is too close to clipping"
        assert np.sqrt(np.mean(samples**2)) > 0.01, f"{stem} is (nearly) silent"


def test_is_a_dataset_for_eval() -> None:
    """`splifft eval examples/song` and `splifft eval examples` both see the one track."""
    assert list(evaluation.find_tracks(SONG, need_mixture=True)) == ["song"]
    assert list(evaluation.find_tracks(SONG.parent, need_mixture=True)) == ["song"]
