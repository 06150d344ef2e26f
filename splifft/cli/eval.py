"""`splifft eval`: score a model, or stems already produced, on a MUSDB18-HQ-style dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_METRICS_TEXT = "sdr,si_sdr,bleedless,fullness"
"""`splifft_core.evaluation.DEFAULT_METRICS`, spelled out so that `--help` needs no numpy."""

DESCRIPTION = """\
Score separations with MSST's metrics (sdr, si_sdr, l1_freq, log_wmse, aura_stft, aura_mrstft,
bleedless, fullness) and bss_sdr, the median over 1-second frames of the BSS-Eval v4 SDR that
papers report. A dataset folder holds one folder per track with mixture.wav and one
<stem>.wav per stem (MUSDB18-HQ layout). Either separate each mixture with a model:
  splifft eval [--model ID] DATASET_DIR
or score stems already produced (same layout; references need mixture.wav for log_wmse):
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
        "dataset", nargs="?", type=Path, metavar="DATASET_DIR", help="track folders to separate"
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
        parse_metrics,
        render_table,
        write_csv,
    )

    metrics = parse_metrics(args.metrics)
    show_progress = not args.quiet and sys.stderr.isatty()

    def on_track(index: int, total: int, track: str) -> None:
        if show_progress:
            print(f"[{index}/{total}] {track}", file=sys.stderr)

    if args.estimates is not None or args.references is not None:
        if args.estimates is None or args.references is None:
            raise ConfigError("--estimates and --references go together")
        if args.dataset is not None or args.model is not None:
            raise ConfigError("give either --estimates/--references or [--model] DATASET_DIR")
        result = evaluate_estimates(args.estimates, args.references, metrics, on_track=on_track)
    else:
        if args.dataset is None:
            raise ConfigError("give a DATASET_DIR, or --estimates DIR --references DIR")
        from splifft_core.user_config import default_model

        result = evaluate_model(
            args.model or default_model(),
            args.dataset,
            metrics,
            device=args.device,
            on_track=on_track,
        )

    if args.csv is not None:
        write_csv(result, args.csv)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        render_table(result)
        if args.csv is not None:
            print(f"wrote {args.csv}", file=sys.stderr)
    return 0
