"""Evaluate separations on a MUSDB18(-HQ)-style dataset: per track, per stem, then mean and median.

A dataset is a folder of tracks, found at any depth, each named by its path relative to the
dataset root. A track is either

- a folder (MUSDB18-HQ) holding a `mixture` file and one file per stem, `<stem>.wav`,
  `<stem>.flac` or any other format the audio reader takes
  (`splifft_core.audio.audio_extensions`); the dataset folder may itself be the one track; or
- a `<name>.stem.mp4` file (MUSDB18, the Native Instruments Stems layout), named without
  `.stem.mp4`: audio stream 0 is the mixture and streams 1 to 4 are `drums`, `bass`, `other`
  and `vocals`, decoded with FFmpeg (`splifft_core.media.read_media`).

One folder may mix both. Other files, folders without a mixture and hidden entries are ignored.
A stem `accompaniment` (or `instrumental`) that a model or the estimates have and a track lacks
is scored against a derived reference: the sum of the track's stems other than the mixture and
`vocals` (MUSDB: drums + bass + other), where the track has `vocals` and at least one other
stem. Two ways in:

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
    from splifft_core.ensemble_run import EnsembleSeparator
    from splifft_core.hub import Notify
    from splifft_core.separator import Separator

MIXTURE: Final = "mixture"
VOCALS: Final = "vocals"
STEM_MP4: Final = ".stem.mp4"
STEM_MP4_STEMS: Final[tuple[str, ...]] = ("drums", "bass", "other", "vocals")
"""The stems of a `.stem.mp4`, audio streams 1 to 4 (stream 0 is the mixture)."""
DERIVED_STEMS: Final = frozenset({"accompaniment", "instrumental"})
"""Stems whose reference, where a track lacks it, is the sum of the non-vocal stems."""
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
        if _is_stem_mp4(path):
            continue  # a track of its own, not a stem of this folder
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


def _is_stem_mp4(path: Path) -> bool:
    return path.name.lower().endswith(STEM_MP4) and len(path.name) > len(STEM_MP4)


def _check_stem_mp4(path: Path) -> None:
    """A one-line error unless `path` opens and has the mixture and the 4 stems' streams."""
    from splifft_core.media import probe_media

    streams = probe_media(path, 0, exact=False).audio_streams
    if streams < 1 + len(STEM_MP4_STEMS):
        raise DatasetError(
            f"{path}: {streams} audio stream(s); a {STEM_MP4} holds the mixture and "
            f"{len(STEM_MP4_STEMS)} stems ({', '.join(STEM_MP4_STEMS)})"
        )


def find_tracks(root: Path, *, need_mixture: bool, stem_files: bool = True) -> dict[str, Path]:
    """track name (path relative to `root`, `/`-separated) → folder or `.stem.mp4` file,
    sorted by name.

    A track folder holds audio files; with `need_mixture` it must hold a `mixture` file.
    Folders that do not (e.g. `examples/` with its loose files) and hidden folders are skipped.
    With `stem_files`, each `<name>.stem.mp4` is a track too, named without `.stem.mp4`, and
    opened here (a corrupt one fails before any model loads); `root` may be such a file.
    """
    if stem_files and root.is_file() and _is_stem_mp4(root):
        _check_stem_mp4(root)
        return {root.name[: -len(STEM_MP4)]: root}
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    tracks: dict[str, Path] = {}

    def add(name: str, path: Path) -> None:
        if name in tracks:
            raise DatasetError(f"{tracks[name]} and {path} are both track {name!r}; keep one")
        tracks[name] = path

    for folder in sorted({root, *(p for p in root.rglob("*") if p.is_dir())}):
        if any(part.startswith(".") for part in folder.relative_to(root).parts):
            continue
        if stem_files:
            for path in sorted(folder.iterdir()):
                if not path.name.startswith(".") and _is_stem_mp4(path) and path.is_file():
                    _check_stem_mp4(path)
                    add(path.relative_to(root).as_posix()[: -len(STEM_MP4)], path)
        files = _audio_candidates(folder)
        if not files or (need_mixture and MIXTURE not in files):
            continue
        _audio_files(folder)  # an ambiguous stem fails here, before any model loads
        name = folder.relative_to(root).as_posix()
        add(name if name != "." else root.resolve().name, folder)
    if not tracks:
        what = f"a {MIXTURE}.wav (or .flac, …)" if need_mixture else "audio files"
        extra = f" or a {STEM_MP4} file" if stem_files else ""
        raise DatasetError(f"{root}: no track folder holding {what}{extra}")
    return dict(sorted(tracks.items()))


@dataclass(frozen=True)
class _Ref:
    """Where one reference comes from: a file, one audio stream of a `.stem.mp4`, or (derived)
    the sum of other references."""

    path: Path
    stream: int | None = None
    """Audio stream of a `.stem.mp4`; `None`: the whole file, read with soundfile."""
    parts: tuple[_Ref, ...] = ()
    label: str = ""

    def __str__(self) -> str:
        return self.label or str(self.path)


def _track_references(track: Path) -> dict[str, _Ref]:
    """stem name (and `mixture`) → where its reference is, for a track folder or `.stem.mp4`."""
    if _is_stem_mp4(track):
        refs = {MIXTURE: _Ref(track, 0, label=f"{track} (stream 0, {MIXTURE})")}
        for stream, stem in enumerate(STEM_MP4_STEMS, start=1):
            refs[stem] = _Ref(track, stream, label=f"{track} (stream {stream}, {stem})")
        return refs
    return {stem: _Ref(path) for stem, path in _audio_files(track).items()}


def _derived_reference(stem: str, references: dict[str, _Ref]) -> _Ref | None:
    """For `accompaniment`/`instrumental` missing from a track: the sum of its non-vocal stems,
    where it has `vocals` and at least one other stem; else `None`."""
    if stem not in DERIVED_STEMS or stem in references or VOCALS not in references:
        return None
    summed = {
        name: ref
        for name, ref in references.items()
        if name not in (MIXTURE, VOCALS) and name not in DERIVED_STEMS
    }
    if not summed:
        return None
    parts, names = tuple(summed.values()), list(summed)
    base = references[VOCALS]
    where = str(base.path) if base.stream is not None else str(base.path.parent)
    return _Ref(base.path, parts=parts, label=f"{where} ({' + '.join(names)}, as {stem})")


def _read_reference(ref: _Ref, dtype: type[np.floating[Any]]) -> tuple[npt.NDArray[Any], int]:
    """A reference as `(channels, samples)` in `dtype`, with its rate."""
    if ref.parts:
        total: npt.NDArray[Any] | None = None
        rate = 0
        for part in ref.parts:
            audio, part_rate = _read_reference(part, np.float64)
            if total is None:
                total, rate = audio, part_rate
                continue
            if part_rate != rate or audio.shape[0] != total.shape[0]:
                raise AudioError(
                    f"{part}: {audio.shape[0]} channel(s) at {part_rate} Hz, but "
                    f"{ref.parts[0]} has {total.shape[0]} at {rate} Hz; cannot sum them as {ref}"
                )
            n = min(total.shape[1], audio.shape[1])
            total = total[:, :n] + audio[:, :n]
        assert total is not None
        return np.ascontiguousarray(total.astype(dtype, copy=False)), rate
    if ref.stream is None:
        return read_audio(ref.path, dtype)
    from splifft_core.media import read_media

    data, rate = read_media(ref.path, ref.stream)
    if not np.isfinite(data).all():
        raise AudioError(f"{ref}: contains NaN or infinite samples")
    return np.ascontiguousarray(data.T.astype(dtype)), int(rate)


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
    est_path: Path | str,
    ref: npt.NDArray[Any],
    ref_rate: int,
    ref_path: Path | _Ref,
) -> None:
    if est_rate != ref_rate:
        raise AudioError(f"{est_path}: sample rate {est_rate} Hz, but {ref_path} has {ref_rate} Hz")
    if estimate.shape[0] != ref.shape[0]:
        raise AudioError(
            f"{est_path}: {estimate.shape[0]} channel(s), but {ref_path} has {ref.shape[0]}"
        )


def _length_warning(
    estimate: npt.NDArray[Any],
    est_path: Path | str,
    ref: npt.NDArray[Any],
    ref_path: Path | _Ref,
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
    what: Path | _Ref,
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

    Tracks and stems come from the estimates; each needs the same-named reference, a track
    folder `references_dir/<track>/` or a file `references_dir/<track>.stem.mp4` (missing ones
    are skipped with a warning; `accompaniment` may be derived, see the module), and the
    track's mixture where a metric needs it.
    """
    metrics = parse_metrics(metrics)
    need_mix = _needs_mixture(metrics)
    if not references_dir.is_dir():
        raise DatasetError(f"{references_dir}: no such folder")
    tracks = find_tracks(estimates_dir, need_mixture=False, stem_files=False)
    result = EvalResult(metrics=metrics)
    for index, (track, est_folder) in enumerate(tracks.items(), start=1):
        rel = est_folder.relative_to(estimates_dir)
        ref_folder = references_dir / rel
        ref_file = references_dir / (rel.as_posix() + STEM_MP4) if rel.parts else None
        has_folder = ref_folder.is_dir() and bool(_audio_candidates(ref_folder))
        has_file = ref_file is not None and ref_file.is_file()
        if has_folder and has_file:
            raise DatasetError(
                f"{ref_folder} and {ref_file} are both references for track {track!r}; keep one"
            )
        if not has_file and not ref_folder.is_dir():
            result.warn(f"{ref_folder}: no reference folder for track {track!r}, skipped", warn)
            continue
        ref_track = ref_file if has_file and ref_file is not None else ref_folder
        if has_file:
            _check_stem_mp4(ref_track)
        if on_track:
            on_track(index, len(tracks), track)
        references = _track_references(ref_track)
        mixture: npt.NDArray[Any] | None = None
        if need_mix:
            if MIXTURE not in references:
                raise DatasetError(
                    f"{ref_folder / (MIXTURE + '.wav')}: no such file (needed by log_wmse)"
                )
            mixture, _ = _read_reference(references[MIXTURE], np.float64)
        for stem, est_path in _audio_files(est_folder).items():
            if stem == MIXTURE:
                continue
            ref = references.get(stem) or _derived_reference(stem, references)
            if ref is None:
                missing = ref_file if has_file else ref_folder / (stem + ".wav")
                result.warn(f"{est_path}: no reference {missing}, skipped", warn)
                continue
            reference, ref_rate = _read_reference(ref, np.float64)
            estimate, est_rate = read_audio(est_path, np.float32)
            _check_match(estimate, est_rate, est_path, reference, ref_rate, ref)
            mismatch = _length_warning(estimate, est_path, reference, ref)
            if mismatch is not None:
                result.warn(mismatch, warn)
            scores = _score(metrics, reference, estimate, mixture, ref_rate, est_path)
            result.scores.setdefault(track, {})[stem] = scores
    if not result.scores:
        raise DatasetError(f"{estimates_dir}: no estimate has a reference in {references_dir}")
    return result


def evaluate_model(
    model: str | Path | Separator | EnsembleSeparator,
    dataset_dir: Path,
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    device: str | None = "auto",
    on_track: OnTrack | None = None,
    warn: Notify | None = None,
) -> EvalResult:
    """Separate each track's mixture and score the stems both the model and the track have.

    Reference stems the model does not produce are left out silently (a dataset usually holds
    more stems than one model makes); model stems without a reference get one warning. A model
    `accompaniment` (or `instrumental`) is scored against the track's non-vocal stems summed
    where the track has no such file (see the module).

    `model` is an identifier (or manifest path) for `splifft_core.api.load`, or a ready
    separator (an ensemble too).
    """
    import torch

    from splifft_core.api import load

    metrics = parse_metrics(metrics)
    tracks = find_tracks(dataset_dir, need_mixture=True)
    separator = load(model, device=device) if isinstance(model, str | Path) else model
    identifier = str(getattr(separator, "identifier", model if isinstance(model, str) else ""))
    result = EvalResult(metrics=metrics, model=identifier or None)
    unmatched: set[str] = set()
    for index, (track, source) in enumerate(tracks.items(), start=1):
        if on_track:
            on_track(index, len(tracks), track)
        references = _track_references(source)
        mix_ref = references.pop(MIXTURE)
        mixture, rate = _read_reference(mix_ref, np.float64)
        stems = separator.separate(torch.from_numpy(mixture.astype(np.float32)), sample_rate=rate)
        for stem, tensor in stems.items():
            ref = references.get(stem) or _derived_reference(stem, references)
            if ref is None:
                unmatched.add(stem)
                continue
            reference, ref_rate = _read_reference(ref, np.float64)
            estimate = tensor.detach().cpu().float().numpy()
            _check_match(estimate, rate, str(mix_ref), reference, ref_rate, ref)
            mismatch = _length_warning(estimate, f"{mix_ref} separated as {stem}", reference, ref)
            if mismatch is not None:
                result.warn(mismatch, warn)
            scores = _score(metrics, reference, estimate, mixture, rate, ref)
            result.scores.setdefault(track, {})[stem] = scores
    if unmatched:
        result.warn(
            f"no references for model stem(s) {', '.join(sorted(unmatched))} in {dataset_dir}",
            warn,
        )
    if not result.scores:
        raise DatasetError(f"{dataset_dir}: no track has a reference for the model's stems")
    return result
