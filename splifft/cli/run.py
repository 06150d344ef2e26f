"""`splifft run`: separate audio files (and folders of them) into stem files."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from splifft_core.types import Task

from typing import get_args

from splifft.cli import render
from splifft.inputs import Track, collect_inputs
from splifft_core.types import EnsembleType

BIT_DEPTHS = (16, 24, 32)
STREAMED_ENSEMBLE_TYPES = tuple(t for t in get_args(EnsembleType) if t != "ensemble_wav")
"""What `run --ensemble` takes: every type but `ensemble_wav` (it needs whole tracks first)."""


def add_parser(subparsers: Any) -> None:
    from splifft_core.config import DEFAULT_FILENAME
    from splifft_core.encoding import FORMATS
    from splifft_core.user_config import BUILTIN_DEFAULT_MODEL

    parser = subparsers.add_parser(
        "run",
        help="separate audio files into stems (or analyse them: pitch, notes, beats)",
        description="Separate audio files (folders are searched recursively for audio files) "
        "into stem files. A file found in a folder keeps its subfolder under the output folder "
        "(album/CD1/01.wav → separated/CD1/01/vocals.flac). Every output path is checked before "
        "any work: a template that gives two stems one path, and two inputs that would write one "
        "path (song.wav beside song.flac: put {input_ext} in --filename, or rename one), are "
        "refused. Outputs are written atomically and never overwrite an input. With several "
        "inputs, an unreadable one is reported on its own line and skipped, the others are "
        "separated, and the exit status is 1. An analysis model (splifft ls --task pitch, "
        "notes or beats) writes {track}/pitch.csv, notes.mid and notes.csv, or beats.tsv "
        "instead of stems.",
    )
    parser.add_argument(
        "inputs", nargs="+", type=Path, metavar="INPUT", help="audio files or folders"
    )
    parser.add_argument(
        "-m",
        "--model",
        action="append",
        help="model identifier or manifest JSON file (default: the configured default_model, "
        f"out of the box {BUILTIN_DEFAULT_MODEL}); several -m with --ensemble run an ensemble",
    )
    parser.add_argument(
        "--ensemble",
        metavar="TYPE",
        help="combine the -m models per stem, block by block as they run: "
        + ", ".join(STREAMED_ENSEMBLE_TYPES)
        + " (see `splifft ensemble --help`); an ensemble preset's -m needs none",
    )
    parser.add_argument(
        "--weights",
        metavar="W1,W2,…",
        help="one weight per -m model for avg_wave / avg_fft (default: all 1)",
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
        help="output path template inside the output folder (and the input's subfolder) with "
        "{track}, {stem}, {ext} (the output format), {input_ext} (the input's extension) and "
        "{model}; it must give every stem its own path "
        f"(default: {DEFAULT_FILENAME})",
    )
    lossy = ", ".join(
        f"{f.name} {f.default_bitrate // 1000}k" for f in FORMATS.values() if f.default_bitrate
    )
    parser.add_argument(
        "--format",
        choices=list(FORMATS),
        default="flac",
        metavar="FORMAT",
        help="output format: "
        + "; ".join(f"{f.name} ({f.description})" for f in FORMATS.values())
        + ". stem.mp4 writes one file per track, {track}.stem.mp4 under the default "
        "--filename (default: flac)",
    )
    parser.add_argument(
        "--bit-depth",
        type=int,
        choices=BIT_DEPTHS,
        default=None,
        help="lossless formats: 16 or 24-bit PCM, or 32-bit float (wav only) (default: 24)",
    )
    parser.add_argument(
        "--bitrate",
        metavar="RATE",
        help=f"lossy formats: bits per second, e.g. 192k (defaults: {lossy})",
    )
    parser.add_argument(
        "--stem-codec",
        choices=("aac", "alac"),
        default="aac",
        help="the codec of a stem.mp4's five streams (default: aac)",
    )
    parser.add_argument(
        "--stems", help="comma-separated stems to write (default: all), e.g. vocals,instrum"
    )
    parser.add_argument(
        "--overlap",
        type=float,
        help="overlap ratio between chunks, 0 ≤ R ≤ 0.99 (0.99: a hop of 1 %% of the chunk, "
        "each sample through the model 100 times)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        help="chunk size in samples, at least 1024 and 2 × the model's STFT size "
        "(default: the model's)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help="chunks per forward pass; memory grows with chunk size × batch size",
    )
    parser.add_argument(
        "--window",
        choices=("hann", "hamming", "triangular", "linear_fade", "rectangular"),
        help="stitching window",
    )
    parser.add_argument(
        "--tta",
        action="store_true",
        default=None,
        help="test-time augmentation (MSST's --use_tta): average the model over the mixture, "
        "its channels swapped and its polarity inverted (3 × the time)",
    )
    parser.add_argument(
        "--shifts",
        type=int,
        metavar="N",
        help="average N randomly time-shifted passes, up to 0.5 s each (demucs' --shifts; "
        "N × the time)",
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
    parser.add_argument(
        "--then",
        action="append",
        default=[],
        metavar="MODEL:STEM",
        help="after separating, run the analysis model MODEL (pitch, notes, beats) on the "
        "separated STEM in memory, e.g. pesto-riou-mir1k_g7:vocals; it writes "
        "{track}/{STEM}_pitch.csv (…_notes.mid, …_beats.tsv); repeatable",
    )
    parser.add_argument(
        "--activations",
        action="store_true",
        help="analysis models: also write the frame activations ({track}/pitch.npz, …)",
    )
    parser.add_argument(
        "--stream",
        type=int,
        default=0,
        metavar="N",
        help="audio stream N of a media file with several (0: the first) (default: 0)",
    )
    parser.add_argument(
        "--clip-mode",
        choices=("rescale", "clamp", "none"),
        default="rescale",
        help="stems beyond full scale: rescale all stems of a track by one factor, clamp to "
        "±1, or none (32-bit float keeps them, PCM clips) (default: rescale)",
    )
    parser.add_argument(
        "--no-fast-kernels",
        dest="fast_kernels",
        action="store_false",
        default=None,
        help="run linear layers with F.linear, not oneDNN (default: SPLIFFT_ONEDNN, on)",
    )
    parser.add_argument(
        "--no-malloc-tuning",
        dest="tune_malloc",
        action="store_false",
        default=None,
        help="leave glibc malloc as it is (default: SPLIFFT_MALLOC_TUNING, on)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def check_input(path: Path, stream: int = 0) -> None:
    """A regular, readable audio file, or a one-line `AudioError` naming it."""
    from splifft_core.audio import probe
    from splifft_core.errors import AudioError

    if path.exists() and not path.is_file() and not path.is_dir():
        raise AudioError(
            f"{path}: not a regular file (pipes and devices are not supported; save it to a "
            "file first)"
        )
    probe(path, stream)


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


def missing_folders(output: Path, plans: list[dict[str, Path]]) -> list[Path]:
    """The folders this run may create (the output folder, its missing parents, every track's
    folders), deepest first: the ones that do not exist yet."""
    candidates: set[Path] = set()
    for folder in [output, *output.parents]:
        candidates.add(folder)
    for plan in plans:
        for dest in plan.values():
            for folder in dest.parents:
                if folder == output or output in folder.parents:
                    candidates.add(folder)
    return sorted(
        (f for f in candidates if not f.exists()), key=lambda f: len(f.parts), reverse=True
    )


def remove_if_empty(folders: list[Path]) -> None:
    """Remove the folders (deepest first) that nothing was written into; never raises."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


OUT_OF_MEMORY = ("out of memory", "not enough memory", "defaultcpuallocator", "cannot allocate")


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's and numpy's allocation failures (`torch.OutOfMemoryError` is a RuntimeError)."""
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(word in str(exc).lower() for word in OUT_OF_MEMORY)


def run(args: argparse.Namespace) -> int:
    from splifft_core.audio import check_output_format
    from splifft_core.encoding import parse_bitrate
    from splifft_core.errors import AudioError

    file_format = args.format
    bit_depth = args.bit_depth
    args.bitrate = parse_bitrate(args.bitrate)
    check_output_format(file_format, bit_depth, args.bitrate, args.stem_codec)
    tracks = collect_inputs(list(args.inputs), args.output)
    good: list[Track] = []
    for track in tracks:
        try:
            check_input(track[0], args.stream)
        except AudioError as exc:
            if len(tracks) == 1:
                raise
            render.error(str(exc))
            continue
        good.append(track)
    failures = len(tracks) - len(good)
    if good:
        failures += separate_all(args, good, [p for p, _ in tracks], file_format, bit_depth)
    if failures and len(tracks) > 1:
        render.error(
            f"{failures} of {len(tracks)} inputs failed (each named above); "
            f"{len(tracks) - failures} separated into {args.output}"
        )
    return 1 if failures else 0


def separate_all(
    args: argparse.Namespace,
    tracks: list[Track],
    inputs: list[Path],
    file_format: str,
    bit_depth: int | None,
) -> int:
    """Check every setting and output path, then separate `tracks`; returns the failures."""
    from pydantic import ValidationError

    import splifft_core.api as api
    from splifft_core.errors import ConfigError, SplifftError
    from splifft_core.registry import resolve_manifest
    from splifft_core.separator import (
        STEMS_FORMAT,
        check_chunking,
        needed_model_stems,
        output_naming,
        plan_outputs,
        resolve_device,
        stem_slots,
    )
    from splifft_core.user_config import default_model

    stems = [s.strip() for s in args.stems.split(",") if s.strip()] if args.stems else None
    models: list[str] = args.model or [default_model()]
    model = models[0]
    # -- before any work: the model's facts, the settings, the device, every output path --
    manifest = resolve_manifest(model).manifest
    if len(models) > 1 or args.ensemble or manifest.ensemble is not None:
        return ensemble_all(args, tracks, inputs, models, stems, file_format, bit_depth)
    if args.weights:
        raise ConfigError("--weights applies to ensembles (several -m with --ensemble TYPE)")
    if manifest.task != "separation":
        if stems or args.then:
            option = "--stems" if stems else "--then"
            raise ConfigError(
                f"{option} applies to separation models; {model} is a {manifest.task} model"
            )
        return analyze_all(args, tracks, inputs, manifest.identifier, manifest.task)
    chains = parse_chains(args.then, manifest.all_stems)
    requested = stems or manifest.all_stems
    for _, stem in chains:
        if stem not in requested:
            raise ConfigError(
                f"--then {_}:{stem}: stem {stem!r} is not among the stems written ({', '.join(requested)})"
            )
    needed = needed_model_stems(requested, manifest.stems, manifest.derived_stems)
    if file_format == STEMS_FORMAT:
        if stems:
            raise ConfigError(
                "--stems does not apply to stem.mp4 (it holds drums, bass, other and vocals)"
            )
        stem_slots(manifest.identifier, manifest.stems, manifest.all_stems)
    config = api.inference_config(manifest, **inference_overrides(args))
    device = resolve_device(args.device)
    try:
        params = api.architecture_for(manifest).parse_params(manifest.params)
    except ValidationError:  # `api.load` reports it, naming the field
        params = None
    chunk = config.chunk_size or getattr(params, "chunk_size", None)
    if params is not None:
        check_chunking(
            params,
            config,
            channels=manifest.channels,
            num_stems=len(needed),
            device=device,
            identifier=manifest.identifier,
        )
    protected = [p.resolve() for p in inputs]
    template, names, ext = output_naming(file_format, args.filename, requested)
    plans = plan_outputs(
        [(path, args.output / sub) for path, sub in tracks],
        template,
        names,
        ext,
        manifest.identifier,
        protected,
    )
    created = missing_folders(args.output, plans)
    failures = 0
    try:
        check_writable(args.output)
        with render.downloads(args.quiet) as on_download:
            separator = api.load(model, stems=stems, **load_options(args, str(device), on_download))
            analyzers = [
                (api.load_analyzer(m, device=str(device), notify=render.note,
                                   on_download=on_download), stem)
                for m, stem in chains
            ]  # fmt: skip
        for path, sub in tracks:
            buffers: dict[str, list[Any]] = {stem: [] for _, stem in analyzers}

            def tee(stem: str, block: Any, buffers: dict[str, list[Any]] = buffers) -> None:
                if stem in buffers:
                    buffers[stem].append(block.numpy().copy())

            try:
                with render.chunks(path.name, args.quiet) as on_progress:
                    written = separator.separate_file(
                        path,
                        args.output / sub,
                        on_progress=on_progress,
                        on_stem_block=tee if analyzers else None,
                        **file_options(args, file_format, bit_depth, stems, protected),
                    )
                for analyzer, stem in analyzers:
                    written += analyze_stem(
                        analyzer, stem, buffers.pop(stem), separator.sample_rate, path, args, sub
                    )
            except SplifftError as exc:
                failures += track_failed(exc, inputs)
                continue
            for out in written:
                print(out)
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        raise ConfigError(
            f"out of memory on {device} with chunk size {chunk or 'the model’s'} × batch size "
            f"{config.batch_size}; use a smaller --batch-size or --chunk-size"
        ) from None
    finally:
        remove_if_empty(created)
    return failures


def ensemble_all(
    args: argparse.Namespace,
    tracks: list[Track],
    inputs: list[Path],
    models: list[str],
    stems: list[str] | None,
    file_format: str,
    bit_depth: int | None,
) -> int:
    """`splifft run -m A -m B --ensemble TYPE` (or `-m ensemble-…`): every track through the
    models in lockstep, combined per stem; returns the failures."""
    import splifft_core.api as api
    from splifft_core.errors import ConfigError, SplifftError
    from splifft_core.registry import resolve_manifest
    from splifft_core.separator import output_naming, plan_outputs, resolve_device

    if args.then:
        raise ConfigError("--then does not apply to ensembles")
    if len(models) == 1 and args.ensemble:
        preset = resolve_manifest(models[0]).manifest
        if preset.ensemble is None:
            raise ConfigError("--ensemble combines two or more models: give -m more than once")
    if len(models) > 1 and not args.ensemble:
        raise ConfigError(
            f"{len(models)} models given: say how to combine them with --ensemble TYPE "
            f"({', '.join(STREAMED_ENSEMBLE_TYPES)})"
        )
    weights = parse_weights(args.weights)
    device = resolve_device(args.device)
    protected = [p.resolve() for p in inputs]
    failures = 0
    with render.downloads(args.quiet) as on_download:
        separator = api.load_ensemble(
            models[0] if len(models) == 1 else list(models),
            args.ensemble,
            weights,
            stems=stems,
            **load_options(args, str(device), on_download),
        )
    requested = list(stems) if stems else list(separator.stems)
    template, names, ext = output_naming(file_format, args.filename, requested)
    plan_outputs(
        [(path, args.output / sub) for path, sub in tracks],
        template,
        names,
        ext,
        separator.identifier,
        protected,
    )
    check_writable(args.output)
    for path, sub in tracks:
        try:
            with render.chunks(path.name, args.quiet) as on_progress:
                written = separator.separate_file(
                    path,
                    args.output / sub,
                    on_progress=on_progress,
                    **file_options(args, file_format, bit_depth, stems, protected),
                )
        except SplifftError as exc:
            failures += track_failed(exc, inputs)
            continue
        for out in written:
            print(out)
    return failures


def inference_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The inference settings the run options override (`None`: the manifest's)."""
    return {
        "chunk_size": args.chunk_size,
        "overlap_ratio": args.overlap,
        "batch_size": args.batch_size,
        "window_shape": args.window,
        "precision": args.precision,
        "tta": args.tta,
        "shifts": args.shifts,
    }


def load_options(args: argparse.Namespace, device: str, on_download: Any) -> dict[str, Any]:
    """`api.load`'s keywords from the run options (one model, or each ensemble member)."""
    return {
        "device": device,
        **inference_overrides(args),
        "notify": render.note,
        "on_download": on_download,
        "tune_malloc": args.tune_malloc,
        "fast_kernels": args.fast_kernels,
    }


def file_options(
    args: argparse.Namespace,
    file_format: str,
    bit_depth: int | None,
    stems: list[str] | None,
    protected: list[Path],
) -> dict[str, Any]:
    """`separate_file`'s output keywords from the run options."""
    return {
        "filename": args.filename,
        "file_format": file_format,
        "bit_depth": bit_depth,
        "bitrate": args.bitrate,
        "stem_codec": args.stem_codec,
        "stems": stems,
        "downmix": args.downmix,
        "protected": protected,
        "clip_mode": args.clip_mode,
        "notify": render.warn,
        "stream": args.stream,
    }


def parse_weights(text: str | None) -> list[float] | None:
    """`--weights 1,2,1` as floats; a one-line error for anything else."""
    from splifft_core.errors import ConfigError

    if not text:
        return None
    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise ConfigError(f"--weights {text!r}: expected numbers separated by commas") from None


def parse_chains(values: list[str], stems: list[str]) -> list[tuple[str, str]]:
    """`--then MODEL:STEM` values as `(model, stem)`; one-line errors for malformed ones."""
    from splifft_core.errors import ConfigError

    chains: list[tuple[str, str]] = []
    for value in values:
        model, sep, stem = value.rpartition(":")
        if not sep or not model or not stem:
            raise ConfigError(
                f"--then {value!r}: expected MODEL:STEM, e.g. pesto-riou-mir1k_g7:vocals "
                f"(stems: {', '.join(stems)})"
            )
        chains.append((model, stem))
    return chains


def analyze_stem(
    analyzer: Any,
    stem: str,
    blocks: list[Any],
    sample_rate: int,
    path: Path,
    args: argparse.Namespace,
    sub: Path,
) -> list[Path]:
    """Run a `--then` analyzer on a separated stem held in memory; write its files as
    `{track}/{stem}_pitch.csv` (under the filename template, `{stem}` = `<stem>_<name>`)."""
    import numpy as np

    from splifft_core.analysis import write_result

    audio = np.concatenate(blocks, axis=1) if blocks else np.zeros((1, 0), np.float32)
    result = analyzer.analyze(audio, sample_rate)
    paths = analyzer.output_paths(
        args.output / sub, args.filename, path, args.activations, prefix=f"{stem}_"
    )
    written: list[Path] = write_result(
        result, lambda name: paths[name], activations=args.activations
    )
    return written


def analyze_all(
    args: argparse.Namespace, tracks: list[Track], inputs: list[Path], model: str, task: Task
) -> int:
    """`splifft run` with an analysis model: each track's pitch, notes or beats files."""
    import splifft_core.api as api
    from splifft_core.analysis import ANALYSIS_OUTPUTS
    from splifft_core.errors import ConfigError, SplifftError
    from splifft_core.separator import plan_outputs, resolve_device

    if args.tta or args.shifts:
        raise ConfigError(
            f"--tta and --shifts apply to separation models; {model} is a {task} model"
        )
    device = resolve_device(args.device)
    protected = [p.resolve() for p in inputs]
    # -- before any work: every output path, as for stems (`{stem}` is the file's name) --
    names = [*ANALYSIS_OUTPUTS[task], *([f"{task}.npz"] if args.activations else [])]
    folders = [(path, args.output / sub) for path, sub in tracks]
    for name in names:
        stem, _, ext = name.partition(".")
        plan_outputs(folders, args.filename, [stem], ext, model, protected)
    check_writable(args.output)
    failures = 0
    with render.downloads(args.quiet) as on_download:
        analyzer = api.load_analyzer(
            model,
            device=str(device),
            batch_size=args.batch_size,
            precision=args.precision,
            notify=render.note,
            on_download=on_download,
        )
    for path, sub in tracks:
        try:
            with render.chunks(path.name, args.quiet) as on_progress:
                written = analyzer.analyze_file(
                    path,
                    args.output / sub,
                    filename=args.filename,
                    activations=args.activations,
                    protected=protected,
                    on_progress=on_progress,
                    notify=render.warn,
                    stream=args.stream,
                )
        except SplifftError as exc:
            failures += track_failed(exc, inputs)
            continue
        for out in written:
            print(out)
    return failures


def track_failed(exc: Exception, inputs: list[Path]) -> int:
    """One input failed: raise for a single input; with several, report it and count it."""
    if len(inputs) == 1:
        raise exc
    render.error(str(exc))
    return 1
