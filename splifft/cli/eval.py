"""`splifft eval`: score a model, or stems already produced, on a MUSDB18(-HQ)-style dataset."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import IO, TYPE_CHECKING

from splifft.cli import render

if TYPE_CHECKING:
    from splifft_core.evaluation import EvalResult

DEFAULT_METRICS_TEXT = "sdr,si_sdr,bleedless,fullness"
"""`splifft_core.evaluation.DEFAULT_METRICS`, spelled out so that `--help` needs no numpy."""

DESCRIPTION = """\
Score separations with MSST's metrics (sdr, si_sdr, l1_freq, log_wmse, aura_stft, aura_mrstft,
bleedless, fullness) and bss_sdr, the median over 1-second frames of the BSS-Eval v4 SDR that
papers report. A dataset folder holds one folder per track with mixture.wav and one
<stem>.wav per stem (MUSDB18-HQ layout; .flac or any format `splifft run` reads works too).
A <track>.stem.mp4 file is a track too (MUSDB18 layout): audio stream 0 is the mixture and
streams 1-4 are drums, bass, other and vocals; one folder may mix both layouts. A model or
estimate stem accompaniment (or instrumental) that a track lacks is scored against the sum
of its non-vocal stems (MUSDB: drums + bass + other).
Either separate each mixture with a model, scoring the stems both it and the track have:
  splifft eval [--model ID] DATASET_DIR
or score stems already produced (<track>/<stem>.wav; references need a mixture for log_wmse):
  splifft eval --estimates DIR --references DIR
Prints a table per track and stem with the mean and median per stem."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from typing import get_args

    from splifft_core.types import Metric

    # numpy-free on purpose: building the parser must stay light for `splifft --help`.
    known = ",".join((*get_args(Metric), "bss_sdr"))
    parser = subparsers.add_parser(
        "eval",
        help="score a model or existing stems on a dataset (sdr, bleedless, …)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "dataset",
        nargs="?",
        type=Path,
        metavar="DATASET_DIR",
        help="tracks to separate: folders, .stem.mp4 files",
    )
    parser.add_argument(
        "-m", "--model", help="model identifier or manifest JSON (default: the default_model)"
    )
    parser.add_argument("--estimates", type=Path, metavar="DIR", help="stems already produced")
    parser.add_argument("--references", type=Path, metavar="DIR", help="reference stems")
    parser.add_argument(
        "--metrics",
        help=f"comma-separated, from {known} (default: {DEFAULT_METRICS_TEXT})",
    )
    parser.add_argument(
        "--json", action="store_true", help="print a JSON object instead of the table"
    )
    parser.add_argument("--csv", type=Path, metavar="PATH", help="also write the scores as CSV")
    parser.add_argument("--device", default="auto", help="for --model: cpu, cuda, mps or auto")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from splifft_core.errors import ConfigError
    from splifft_core.evaluation import (
        evaluate_estimates,
        evaluate_model,
        find_tracks,
        parse_metrics,
        write_csv,
    )

    metrics = parse_metrics(args.metrics)

    def on_track(index: int, total: int, track: str) -> None:
        render.status(f"[{index}/{total}] {track}", args.quiet)

    if args.estimates is not None or args.references is not None:
        if args.estimates is None or args.references is None:
            raise ConfigError("--estimates and --references go together")
        if args.dataset is not None or args.model is not None:
            raise ConfigError("give either --estimates/--references or [--model] DATASET_DIR")
        result = evaluate_estimates(
            args.estimates, args.references, metrics, on_track=on_track, warn=render.warn
        )
    else:
        if args.dataset is None:
            raise ConfigError("give a DATASET_DIR, or --estimates DIR --references DIR")
        import splifft_core.api as api
        from splifft_core.user_config import default_model

        find_tracks(args.dataset, need_mixture=True)  # a bad dataset fails before the model loads
        with render.downloads(args.quiet) as on_download:
            separator = api.load(
                args.model or default_model(),
                device=args.device,
                notify=render.note,
                on_download=on_download,
            )
        result = evaluate_model(
            separator, args.dataset, metrics, on_track=on_track, warn=render.warn
        )

    if args.csv is not None:
        write_csv(result, args.csv)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        render_scores(result)
        if args.csv is not None:
            render.note(f"wrote {args.csv}")
    return 0


def render_scores(result: EvalResult, file: IO[str] | None = None) -> None:
    """The per-track, per-stem table, then the per-stem mean and median."""
    columns = [
        render.Column("track", fold=True),
        render.Column("stem", no_wrap=True),
        *(render.Column(m, justify="right", no_wrap=True) for m in result.metrics),
    ]
    tracks = [
        [track, stem, *(_cell(values.get(m)) for m in result.metrics)]
        for track, by_stem in result.scores.items()
        for stem, values in by_stem.items()
    ]
    aggregates = [
        [
            [how, stem, *(_cell(values.get(m)) for m in result.metrics)]
            for stem, values in result.aggregate(how).items()
        ]
        for how in ("mean", "median")
    ]
    title = "splifft eval" + (f": {result.model}" if result.model else "")
    render.table(title, columns, tracks, *aggregates, file=file)


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "–"
    return f"{value:.3f}"
