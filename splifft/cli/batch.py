"""`splifft batch`: a whole catalogue, resumable, on one machine or a Ray cluster."""

from __future__ import annotations

import argparse
from typing import Any

from splifft.cli import render


def add_parser(subparsers: Any) -> None:
    from splifft_core.encoding import FORMATS

    parser = subparsers.add_parser(
        "batch",
        help="separate a whole catalogue: resumable, overlapped, optionally on a Ray cluster",
        description="Separate every track the inputs name into OUT, as `splifft run` would (the "
        "same files, bit for bit), with decoding, the model and encoding overlapped on one "
        "machine, or in a Ray Data actor pool with --ray. Each finished track is recorded in "
        "OUT (.splifft-batch/ and the job manifest splifft-batch.json): running the same "
        "command again skips the tracks that are done and retries the failed ones. A bad file "
        "fails alone, with its one-line error in the report; the exit status is then 1.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="files, folders (searched recursively), globs ('music/**/*.flac'), list files "
        "(.txt: one per line; .csv: a path column) or URIs (s3://…, gs://… through fsspec)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder or URI")
    parser.add_argument("-m", "--model", help="model identifier (default: the default model)")
    parser.add_argument(
        "--ray",
        nargs="?",
        const=True,
        default=False,
        metavar="ADDRESS",
        help="run on Ray: a local instance, or the cluster at ADDRESS (auto, ray://head:10001); "
        "needs pip install 'splifft[ray]'",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="with --ray: actors, each holding the model (default: as the cluster allows)",
    )
    parser.add_argument(
        "--gpus-per-worker",
        type=float,
        default=0.0,
        metavar="G",
        help="with --ray: GPUs per actor, e.g. 1 or 0.5 (default: 0, CPU actors)",
    )
    parser.add_argument(
        "--cpus-per-worker",
        type=float,
        default=1.0,
        metavar="C",
        help="with --ray: CPUs per actor (default: 1)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would run, skip or retry; run nothing"
    )
    parser.add_argument("--stems", help="comma-separated stems to write (default: all)")
    parser.add_argument(
        "--format",
        choices=[f for f in FORMATS if f != "stem.mp4"],
        default="flac",
        help="output format (default: flac)",
    )
    parser.add_argument("--bit-depth", type=int, choices=(16, 24, 32), help="lossless formats")
    parser.add_argument("--bitrate", metavar="RATE", help="lossy formats, e.g. 192k")
    parser.add_argument(
        "--filename",
        default="{track}/{stem}.{ext}",
        help="output path template, as for splifft run (default: {track}/{stem}.{ext})",
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps (default: auto)")
    parser.add_argument("--chunk-size", type=int, metavar="SAMPLES", help="as for splifft run")
    parser.add_argument("--overlap", type=float, metavar="R", help="as for splifft run")
    parser.add_argument("--batch-size", type=int, metavar="N", help="as for splifft run")
    parser.add_argument(
        "--precision", choices=("float32", "bfloat16", "float16"), help="as for splifft run"
    )
    parser.add_argument("--tta", action="store_true", default=None, help="as for splifft run")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from splifft.batch import BatchOptions, plan_batch, separate_many
    from splifft_core.errors import ConfigError

    if not args.ray and (
        args.workers is not None or args.gpus_per_worker or args.cpus_per_worker != 1.0
    ):
        raise ConfigError(
            "--workers, --gpus-per-worker and --cpus-per-worker apply with --ray (on one "
            "machine the model runs once, on --device)"
        )

    options = BatchOptions(
        model=args.model,
        stems=tuple(s.strip() for s in args.stems.split(",") if s.strip()) if args.stems else None,
        file_format=args.format,
        bit_depth=args.bit_depth,
        bitrate=args.bitrate,
        filename=args.filename,
        device=args.device,
        chunk_size=args.chunk_size,
        overlap_ratio=args.overlap,
        batch_size=args.batch_size,
        precision=args.precision,
        tta=args.tta,
    )
    if args.dry_run:
        plan = plan_batch(args.inputs, args.output, options)
        for item in plan.inputs:
            word = (
                "retry" if item.key in plan.retried else "run" if item in plan.pending else "skip"
            )
            print(f"{word}\t{item.location}")
        render.note(
            f"{len(plan.pending)} to run ({len(plan.retried)} retried), "
            f"{len(plan.inputs) - len(plan.pending)} done already"
        )
        return 0
    with (
        render.downloads(args.quiet) as on_download,
        render.counter("tracks", args.quiet) as (advance, set_total),
    ):
        report = separate_many(
            args.inputs,
            args.output,
            options,
            ray=args.ray,
            workers=args.workers,
            gpus_per_worker=args.gpus_per_worker,
            cpus_per_worker=args.cpus_per_worker,
            on_record=lambda record: advance(),
            on_start=set_total,
            on_download=on_download,
        )
    for record in report.failed:
        render.error(record.error or f"{record.input}: failed")
    hours = report.wall_seconds / 3600
    render.note(
        f"{report.done} done, {len(report.skipped)} skipped (done before), "
        f"{len(report.failed)} failed; {report.audio_hours:.2f} h of audio in "
        f"{report.wall_seconds:.1f} s ({report.tracks_per_hour:.0f} tracks/h, "
        f"{report.audio_hours / hours if hours else 0:.1f}× real time); job manifest: "
        f"{report.manifest}"
    )
    return 1 if report.failed else 0
