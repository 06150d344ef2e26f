"""Evaluate separations on a MUSDB18-HQ-style dataset: per track, per stem, then mean and median.

A dataset is a folder of track folders (found at any depth; a track is named by its path
relative to the dataset root; the dataset folder may itself be the one track) each holding a
`mixture` file and one file per stem, `<stem>.wav`, `<stem>.flac` or any other format the audio
reader takes (`splifft_core.audio.audio_extensions`). Other files, folders without a mixture
and hidden entries are ignored. Two ways in:

- [evaluate_estimates][splifft_core.evaluation.evaluate_estimates]: stems someone already
  produced, in the same layout, against the references;
- [evaluate_model][splifft_core.evaluation.evaluate_model]: separate each mixture with a
  model (`splifft.load`) and score the stems that both the model and the track have (reference
  stems the model does not produce, e.g. MUSDB's drums for a vocals model, are not used).

As in MSST, references and mixtures are read as float64 and estimates are float32. Results are
data ([EvalResult][splifft_core.evaluation.EvalResult], with the warnings of the run), out as a
JSON object or a CSV file (written atomically); `splifft eval` renders the table.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from splifft_core.atomic import write_text_atomic
from splifft_core.errors import AudioError, ConfigError, OutputError, SplifftError

if TYPE_CHECKING:
    from splifft_core.hub import Notify
    from splifft_core.separator import Separator

MIXTURE: Final = "mixture"
DEFAULT_METRICS: Final[tuple[str, ...]] = ("sdr", "si_sdr", "bleedless", "fullness")
"""What `splifft eval` reports unless `--metrics` says otherwise: cheap, and what leaderboards
show first."""

Scores = dict[str, dict[str, dict[str, float]]]
"""track → stem → metric → value."""

OnTrack = Callable[[int, int, str], None]
"""Called before each track with (index from 1, number of tracks, track name)."""


class DatasetError(SplifftError):
    """A dataset or estimates folder does not have the expected layout."""


# --------------------------------------------------------------------------------------------
# results


@dataclass
class EvalResult:
    """Scores per track and stem, with their per-stem aggregates."""

    metrics: tuple[str, ...]
    scores: Scores = field(default_factory=dict)
    model: str | None = None
    warnings: list[str] = field(default_factory=list)
    """What was skipped and why, one line each."""

    def warn(self, message: str, listener: Notify | None = None) -> None:
        """Keep a warning, and pass it on to `listener` as it happens."""
        self.warnings.append(message)
        if listener is not None:
            listener(message)

    @property
    def stems(self) -> list[str]:
        """Stems in first-seen order."""
        seen: dict[str, None] = {}
        for by_stem in self.scores.values():
            seen.update(dict.fromkeys(by_stem))
        return list(seen)

    def aggregate(self, how: str) -> dict[str, dict[str, float]]:
        """stem → metric → mean or median over tracks; NaN values are left out."""
        if how not in ("mean", "median"):
            raise ValueError(f"unknown aggregate {how!r}")
        out: dict[str, dict[str, float]] = {}
        for stem in self.stems:
            out[stem] = {}
            for metric in self.metrics:
                values = [
                    by_stem[stem][metric]
                    for by_stem in self.scores.values()
                    if stem in by_stem and metric in by_stem[stem]
                ]
                kept = [v for v in values if not math.isnan(v)]
                if not kept:
                    out[stem][metric] = math.nan
                elif how == "mean":
                    out[stem][metric] = float(np.mean(kept))
                else:
                    out[stem][metric] = float(np.median(kept))
        return out

    def to_json(self) -> dict[str, Any]:
        """`{"model", "metrics", "tracks": track → stem → metric → value, "aggregates": {"mean",
        "median"}: stem → metric → value, "warnings"}`; NaN and infinities become null (strict
        JSON)."""
        return {
            "model": self.model,
            "metrics": list(self.metrics),
            "tracks": _json_safe(self.scores),
            "aggregates": {
                "mean": _json_safe(self.aggregate("mean")),
                "median": _json_safe(self.aggregate("median")),
            },
            "warnings": list(self.warnings),
        }

    def csv_rows(self) -> list[list[str]]:
        """Header, one row per (track, stem), then a mean and a median row per stem."""
        rows = [["kind", "track", "stem", *self.metrics]]
        for track, by_stem in self.scores.items():
            for stem, values in by_stem.items():
                rows.append(
                    ["track", track, stem, *(_fmt_csv(values.get(m)) for m in self.metrics)]
                )
        for how in ("mean", "median"):
            for stem, values in self.aggregate(how).items():
                rows.append([how, "", stem, *(_fmt_csv(values.get(m)) for m in self.metrics)])
        return rows


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _fmt_csv(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else repr(float(value))


def write_json(result: EvalResult, path: Path) -> Path:
    """Write `result.to_json()` to `path` atomically."""
    return _write_atomic(path, json.dumps(result.to_json(), indent=2) + "\n")


def write_csv(result: EvalResult, path: Path) -> Path:
    """Write `result.csv_rows()` to `path` atomically."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(result.csv_rows())
    return _write_atomic(path, buffer.getvalue())


def _write_atomic(path: Path, text: str) -> Path:
    try:
        return write_text_atomic(path, text, newline="")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


# --------------------------------------------------------------------------------------------
# dataset layout


def parse_metrics(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """`"sdr,bleedless"` → `("sdr", "bleedless")`; a ConfigError names unknown metrics."""
    from splifft_core.metrics import EVAL_METRICS

    if text is None:
        return DEFAULT_METRICS
    items = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(dict.fromkeys(s.strip() for s in items if s.strip()))
    if not names:
        raise ConfigError("--metrics is empty")
    unknown = [n for n in names if n not in EVAL_METRICS]
    if unknown:
        raise ConfigError(f"unknown metric {', '.join(unknown)} (known: {', '.join(EVAL_METRICS)})")
    return names


def _audio_candidates(folder: Path) -> dict[str, list[Path]]:
    """stem name → the audio files directly in `folder` named so, any extension the audio
    reader takes. Hidden files are skipped: macOS leaves `._vocals.wav` resource forks in
    copied datasets."""
    from splifft_core.audio import audio_extensions

    extensions = audio_extensions()
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in extensions:
            continue
        if path.is_file():
            found.setdefault(path.stem, []).append(path)
    return found


def _audio_files(folder: Path) -> dict[str, Path]:
    """stem name → file in `folder`; a DatasetError when two files claim one stem
    (`vocals.wav` and `vocals.flac`): which one to score is not ours to guess."""
    found: dict[str, Path] = {}
    for stem, paths in _audio_candidates(folder).items():
        if len(paths) > 1:
            names = " and ".join(p.name for p in paths)
            raise DatasetError(f"{folder}: {names} are both stem {stem!r}; keep one")
        found[stem] = paths[0]
    return found


def find_tracks(root: Path, *, need_mixture: bool) -> dict[str, Path]:
    """track name (path relative to `root`, `/`-separated) → folder, sorted by name.

    A track folder holds audio files; with `need_mixture` it must hold a `mixture` file.
    Folders that do not (e.g. `examples/` with its loose files) and hidden folders are skipped.
    """
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    tracks: dict[str, Path] = {}
    for folder in sorted({root, *(p for p in root.rglob("*") if p.is_dir())}):
        if any(part.startswith(".") for part in folder.relative_to(root).parts):
            continue
        files = _audio_candidates(folder)
        if not files or (need_mixture and MIXTURE not in files):
            continue
        _audio_files(folder)  # an ambiguous stem fails here, before any model loads
        name = folder.relative_to(root).as_posix()
        tracks[name if name != "." else root.resolve().name] = folder
    if not tracks:
        what = f"a {MIXTURE}.wav (or .flac, …)" if need_mixture else "audio files"
        raise DatasetError(f"{root}: no track folder holding {what}")
    return dict(sorted(tracks.items()))


def read_audio(path: Path, dtype: type[np.floating[Any]]) -> tuple[npt.NDArray[Any], int]:
    """A whole file as `(channels, samples)` in `dtype`, with its rate; one-line errors."""
    import soundfile as sf

    from splifft_core.audio import probe

    probe(path)
    try:
        data, rate = sf.read(str(path), dtype=np.dtype(dtype).name, always_2d=True)
    except Exception as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc})") from None
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    return np.ascontiguousarray(data.T), int(rate)


def _check_match(
    estimate: npt.NDArray[Any],
    est_rate: int,
    est_path: Path,
    ref: npt.NDArray[Any],
    ref_rate: int,
    ref_path: Path,
) -> None:
    if est_rate != ref_rate:
        raise AudioError(f"{est_path}: sample rate {est_rate} Hz, but {ref_path} has {ref_rate} Hz")
    if estimate.shape[0] != ref.shape[0]:
        raise AudioError(
            f"{est_path}: {estimate.shape[0]} channel(s), but {ref_path} has {ref.shape[0]}"
        )


def _length_warning(
    estimate: npt.NDArray[Any], est_path: Path | str, ref: npt.NDArray[Any], ref_path: Path
) -> str | None:
    """A warning when an estimate and its reference differ in length: only the overlap is
    scored (the first `min` samples; `bss_sdr` pads or cuts the estimate instead)."""
    est_len, ref_len = estimate.shape[-1], ref.shape[-1]
    if est_len == ref_len:
        return None
    which = "shorter" if est_len < ref_len else "longer"
    return (
        f"{est_path}: {est_len} samples, {which} than {ref_path} ({ref_len} samples); "
        f"scored the first {min(est_len, ref_len)} samples only"
    )


def _score(
    metrics: Sequence[str],
    reference: npt.NDArray[Any],
    estimate: npt.NDArray[Any],
    mixture: npt.NDArray[Any] | None,
    rate: int,
    what: Path,
) -> dict[str, float]:
    from splifft_core.metrics import compute_metrics

    try:
        return compute_metrics(metrics, reference, estimate, mixture, rate)
    except ValueError as exc:
        raise AudioError(f"{what}: {exc}") from None


def _needs_mixture(metrics: Iterable[str]) -> bool:
    from splifft_core.metrics import METRICS_NEEDING_MIXTURE

    return any(m in METRICS_NEEDING_MIXTURE for m in metrics)


# --------------------------------------------------------------------------------------------
# the two modes


def evaluate_estimates(
    estimates_dir: Path,
    references_dir: Path,
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    on_track: OnTrack | None = None,
    warn: Notify | None = None,
) -> EvalResult:
    """Score every `<track>/<stem>.wav` under `estimates_dir` against `references_dir`.

    Tracks and stems come from the estimates; each needs the same-named reference (missing
    ones are skipped with a warning), and `references_dir/<track>/mixture.wav` where a metric
    needs the mixture.
    """
    metrics = parse_metrics(metrics)
    need_mix = _needs_mixture(metrics)
    if not references_dir.is_dir():
        raise DatasetError(f"{references_dir}: no such folder")
    tracks = find_tracks(estimates_dir, need_mixture=False)
    result = EvalResult(metrics=metrics)
    for index, (track, est_folder) in enumerate(tracks.items(), start=1):
        ref_folder = references_dir / est_folder.relative_to(estimates_dir)
        if not ref_folder.is_dir():
            result.warn(f"{ref_folder}: no reference folder for track {track!r}, skipped", warn)
            continue
        if on_track:
            on_track(index, len(tracks), track)
        references = _audio_files(ref_folder)
        mixture: npt.NDArray[Any] | None = None
        if need_mix:
            if MIXTURE not in references:
                raise DatasetError(
                    f"{ref_folder / (MIXTURE + '.wav')}: no such file (needed by log_wmse)"
                )
            mixture, _ = read_audio(references[MIXTURE], np.float64)
        for stem, est_path in _audio_files(est_folder).items():
            if stem == MIXTURE:
                continue
            if stem not in references:
                result.warn(
                    f"{est_path}: no reference {ref_folder / (stem + '.wav')}, skipped", warn
                )
                continue
            reference, ref_rate = read_audio(references[stem], np.float64)
            estimate, est_rate = read_audio(est_path, np.float32)
            _check_match(estimate, est_rate, est_path, reference, ref_rate, references[stem])
            mismatch = _length_warning(estimate, est_path, reference, references[stem])
            if mismatch is not None:
                result.warn(mismatch, warn)
            scores = _score(metrics, reference, estimate, mixture, ref_rate, est_path)
            result.scores.setdefault(track, {})[stem] = scores
    if not result.scores:
        raise DatasetError(f"{estimates_dir}: no estimate has a reference in {references_dir}")
    return result


def evaluate_model(
    model: str | Separator,
    dataset_dir: Path,
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    device: str | None = "auto",
    on_track: OnTrack | None = None,
    warn: Notify | None = None,
) -> EvalResult:
    """Separate each track's mixture and score the stems both the model and the track have.

    Reference stems the model does not produce are left out silently (a dataset usually holds
    more stems than one model makes); model stems without a reference get one warning.

    `model` is an identifier (or manifest path) for `splifft_core.api.load`, or a ready
    separator.
    """
    import torch

    from splifft_core.api import load

    metrics = parse_metrics(metrics)
    tracks = find_tracks(dataset_dir, need_mixture=True)
    separator = load(model, device=device) if isinstance(model, str | Path) else model
    identifier = str(getattr(separator, "identifier", model if isinstance(model, str) else ""))
    result = EvalResult(metrics=metrics, model=identifier or None)
    unmatched: set[str] = set()
    for index, (track, folder) in enumerate(tracks.items(), start=1):
        if on_track:
            on_track(index, len(tracks), track)
        references = _audio_files(folder)
        mix_path = references.pop(MIXTURE)
        mixture, rate = read_audio(mix_path, np.float64)
        stems = separator.separate(torch.from_numpy(mixture.astype(np.float32)), sample_rate=rate)
        for stem, tensor in stems.items():
            if stem not in references:
                unmatched.add(stem)
                continue
            reference, ref_rate = read_audio(references[stem], np.float64)
            estimate = tensor.detach().cpu().float().numpy()
            _check_match(estimate, rate, mix_path, reference, ref_rate, references[stem])
            mismatch = _length_warning(
                estimate, f"{mix_path} separated as {stem}", reference, references[stem]
            )
            if mismatch is not None:
                result.warn(mismatch, warn)
            scores = _score(metrics, reference, estimate, mixture, rate, references[stem])
            result.scores.setdefault(track, {})[stem] = scores
    if unmatched:
        result.warn(
            f"no references for model stem(s) {', '.join(sorted(unmatched))} in {dataset_dir}",
            warn,
        )
    if not result.scores:
        raise DatasetError(f"{dataset_dir}: no track has a reference for the model's stems")
    return result
