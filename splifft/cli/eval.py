"""`splifft eval`: score a model, or stems already produced, on a MUSDB18(-HQ)-style dataset."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

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
        "-m",
        "--model",
        action="append",
        help="model identifier or manifest JSON (default: the default_model); several -m "
        "with --ensemble score their ensemble",
    )
    parser.add_argument(
        "--ensemble", metavar="TYPE", help="combine the -m models per stem (as `splifft run`)"
    )
    parser.add_argument("--weights", metavar="W1,W2,…", help="one weight per -m model")
    parser.add_argument(
        "--tta",
        action="store_true",
        default=None,
        help="test-time augmentation (MSST's --use_tta), as `splifft run --tta`",
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
        from splifft.cli.run import parse_weights
        from splifft_core.registry import resolve_manifest
        from splifft_core.user_config import default_model

        find_tracks(args.dataset, need_mixture=True)  # a bad dataset fails before the model loads
        models: list[str] = args.model or [default_model()]
        options: dict[str, Any] = {"device": args.device, "notify": render.note, "tta": args.tta}
        preset = resolve_manifest(models[0]).manifest.ensemble is not None
        if len(models) > 1 and not args.ensemble:
            raise ConfigError(f"{len(models)} models given: combine them with --ensemble TYPE")
        if (args.ensemble or args.weights) and len(models) == 1 and not preset:
            raise ConfigError("--ensemble combines two or more models: give -m more than once")
        separator: Any
        with render.downloads(args.quiet) as on_download:
            if len(models) > 1 or preset:
                separator = api.load_ensemble(
                    models[0] if preset and len(models) == 1 else list(models),
                    args.ensemble,
                    parse_weights(args.weights),
                    on_download=on_download,
                    **options,
                )
            else:
                separator = api.load(models[0], on_download=on_download, **options)
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
