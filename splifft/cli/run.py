"""`splifft run`: separate audio files (and folders of them) into stem files."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

FORMATS = ("flac", "wav")
BIT_DEPTHS = (16, 24, 32)


def add_parser(subparsers: Any) -> None:
    from splifft_core.config import DEFAULT_FILENAME
    from splifft_core.user_config import BUILTIN_DEFAULT_MODEL

    parser = subparsers.add_parser(
        "run",
        help="separate audio files into stems",
        description="Separate audio files (folders are searched recursively for audio files) "
        "into stem files. Outputs are written atomically and never overwrite an input.",
    )
    parser.add_argument(
        "inputs", nargs="+", type=Path, metavar="INPUT", help="audio files or folders"
    )
    parser.add_argument(
        "-m",
        "--model",
        help="model identifier or manifest JSON file (default: the configured default_model, "
        f"out of the box {BUILTIN_DEFAULT_MODEL})",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("separated"),
        help="output folder (default: separated)",
    )
    parser.add_argument(
        "--filename",
        default=DEFAULT_FILENAME,
        help=f"output path template with {{track}}, {{stem}}, {{ext}}, {{model}} (default: {DEFAULT_FILENAME})",
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="flac", help="output format (default: flac)"
    )
    parser.add_argument(
        "--bit-depth",
        type=int,
        choices=BIT_DEPTHS,
        default=None,
        help="16 or 24-bit PCM, or 32-bit float (wav only) (default: 24)",
    )
    parser.add_argument(
        "--stems", help="comma-separated stems to write (default: all), e.g. vocals,instrum"
    )
    parser.add_argument("--overlap", type=float, help="overlap ratio between chunks, 0 ≤ R < 1")
    parser.add_argument(
        "--chunk-size", type=int, help="chunk size in samples (default: the model's)"
    )
    parser.add_argument("--batch-size", type=int, help="chunks per forward pass")
    parser.add_argument(
        "--window",
        choices=("hann", "hamming", "triangular", "linear_fade", "rectangular"),
        help="stitching window",
    )
    parser.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:1, mps or auto (default: auto)"
    )
    parser.add_argument(
        "--precision", choices=("float32", "bfloat16", "float16"), help="model precision (autocast)"
    )
    parser.add_argument(
        "--downmix",
        action="store_true",
        help="mix down inputs with more channels than the model takes",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def collect_inputs(paths: list[Path]) -> list[Path]:
    """Files as given; folders searched recursively for audio files (sorted)."""
    from splifft_core.audio import audio_extensions
    from splifft_core.errors import AudioError

    exts = audio_extensions()
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in exts)
            if not inside:
                raise AudioError(f"{path}: folder holds no audio files")
            found.extend(inside)
        elif path.exists():
            found.append(path)
        else:
            raise AudioError(f"{path}: no such file")
    return list(dict.fromkeys(found))


def check_writable(folder: Path) -> None:
    from splifft_core.errors import OutputError

    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".splifft-probe-")
        os.close(fd)
        Path(probe).unlink()
    except OSError as exc:
        raise OutputError(
            f"{folder}: output folder is not writable ({exc.strerror or exc})"
        ) from None


def run(args: argparse.Namespace) -> int:
    from splifft_core.audio import check_output_format, probe
    from splifft_core.errors import SplifftError
    from splifft_core.user_config import default_model

    file_format = args.format
    bit_depth = args.bit_depth or 24
    check_output_format(file_format, bit_depth)
    inputs = collect_inputs(list(args.inputs))
    for path in inputs:
        probe(path)
    check_writable(args.output)
    stems = [s.strip() for s in args.stems.split(",") if s.strip()] if args.stems else None

    import splifft_core.api as api

    separator = api.load(
        args.model or default_model(),
        device=args.device,
        stems=stems,
        chunk_size=args.chunk_size,
        overlap_ratio=args.overlap,
        batch_size=args.batch_size,
        window_shape=args.window,
        precision=args.precision,
    )
    failures = 0
    protected = [p.resolve() for p in inputs]
    for path in inputs:
        try:
            with ProgressBar(path.name, args.quiet) as on_progress:
                written = separator.separate_file(
                    path,
                    args.output,
                    filename=args.filename,
                    file_format=file_format,
                    bit_depth=bit_depth,
                    stems=stems,
                    downmix=args.downmix,
                    protected=protected,
                    on_progress=on_progress,
                )
        except SplifftError as exc:
            if len(inputs) == 1:
                raise
            print(f"splifft: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        for out in written:
            print(out)
    return 1 if failures else 0


class ProgressBar:
    """A rich progress bar on stderr (only when it is a terminal and not --quiet)."""

    def __init__(self, name: str, quiet: bool) -> None:
        self.name = name
        self.enabled = not quiet and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(self.name, total=None)

        def update(done: int, total: int) -> None:
            self._progress.update(self._task, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
