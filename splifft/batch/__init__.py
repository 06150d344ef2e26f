"""Separating a whole catalogue: `separate_many` (and `splifft batch`).

```python
from splifft.batch import separate_many

report = separate_many(["album/", "s3://label/masters/"], "out/", model="bs_roformer-lu-viperx")
print(report.done, report.skipped, report.failed)
```

- **On one machine** the tracks flow through three stages that overlap: a reader thread decodes
  (and fetches, for object storage) the next track, the model separates the current one, and a
  writer thread encodes and writes the previous one's stems. The outputs are bit for bit those
  of `splifft run` on each file: the same plan, engine and writers, only run on another thread.
  A track longer than `hold_seconds` is streamed by the model's stage as `splifft run` does, so
  memory stays bounded whatever the length.
- **With Ray** (`ray=True` or an address; `pip install "splifft[ray]"`) a Ray Data pipeline
  separates in an actor pool, each actor holding its model (`splifft.batch.on_ray`).
- **Resumable**: each finished track leaves a record in the output folder
  (`splifft.batch.records`); running the same batch again skips the tracks that are done (same
  settings, same input, outputs in place) and retries the failed ones. A bad file fails alone,
  its one-line error in its record and in the report.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from splifft.batch.locations import BatchInput, collect_inputs, filesystem, is_uri
from splifft.batch.records import (
    Output,
    OutputFile,
    TrackRecord,
    fingerprint,
    input_stat,
    relative_to_output,
    sha256_file,
)
from splifft_core.errors import SplifftError

__all__ = [
    "BatchInput",
    "BatchOptions",
    "BatchReport",
    "TrackRecord",
    "plan_batch",
    "run_pipeline",
    "separate_many",
]

HOLD_SECONDS = 20 * 60
"""Tracks up to this long are decoded whole ahead of the model; longer ones stream."""


@dataclass(frozen=True)
class BatchOptions:
    """What every track is separated with (the `splifft run` options a batch takes)."""

    model: str | None = None
    """A model identifier or manifest file (`None`: the configured default model)."""
    stems: tuple[str, ...] | None = None
    file_format: str = "flac"
    bit_depth: int | None = None
    bitrate: str | None = None
    filename: str = "{track}/{stem}.{ext}"
    device: str = "auto"
    chunk_size: int | None = None
    overlap_ratio: float | None = None
    batch_size: int | None = None
    precision: str | None = None
    tta: bool | None = None
    clip_mode: str = "rescale"

    def settings(self, model: str) -> dict[str, Any]:
        """What shapes the outputs (every field but the device, the model resolved): a changed
        value makes done tracks run again."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "device"}
        return {**values, "model": model}

    def load_options(self) -> dict[str, Any]:
        """`api.load`'s keywords."""
        return {name: getattr(self, name) for name in LOAD_FIELDS}

    def file_options(self) -> dict[str, Any]:
        """`plan_track`'s (and `separate_file`'s) keywords."""
        return {name: getattr(self, name) for name in FILE_FIELDS}


LOAD_FIELDS = ("device", "chunk_size", "overlap_ratio", "batch_size", "precision", "tta")
FILE_FIELDS = ("filename", "file_format", "bit_depth", "bitrate", "stems", "clip_mode")


@dataclass
class BatchReport:
    """What a batch did: each track's record, and the totals."""

    records: list[TrackRecord] = field(default_factory=list)
    skipped: list[BatchInput] = field(default_factory=list)
    wall_seconds: float = 0.0
    manifest: Path | str | None = None

    @property
    def done(self) -> int:
        return sum(r.state == "done" for r in self.records)

    @property
    def failed(self) -> list[TrackRecord]:
        return [r for r in self.records if r.state == "failed"]

    @property
    def audio_hours(self) -> float:
        return sum(r.audio_seconds for r in self.records if r.state == "done") / 3600

    @property
    def tracks_per_hour(self) -> float:
        return 3600 * self.done / self.wall_seconds if self.wall_seconds > 0 else 0.0


@dataclass(frozen=True)
class BatchPlan:
    """The tracks of a batch and which of them run."""

    inputs: list[BatchInput]
    pending: list[BatchInput]
    retried: set[str]
    """Keys of pending tracks whose last run failed."""
    settings: dict[str, Any]


def resolved_model(options: BatchOptions) -> str:
    from splifft_core.registry import resolve_manifest
    from splifft_core.user_config import default_model

    model = options.model or default_model()
    entry = resolve_manifest(model)
    if entry.manifest.task != "separation":
        raise SplifftError(f"{model} is a {entry.manifest.task} model: batch separates stems")
    return str(model)


def plan_batch(inputs: Sequence[str], output: str, options: BatchOptions) -> BatchPlan:
    """Collect the inputs and sort out which are done (see `Output.is_done`)."""
    from splifft_core.errors import ConfigError

    items = collect_inputs(list(inputs), output)
    if not items:
        raise ConfigError("no inputs")
    model = resolved_model(options)
    settings = options.settings(model)
    out = Output(output)
    marker = fingerprint(settings)
    pending: list[BatchInput] = []
    retried: set[str] = set()
    for item in items:
        record = out.record(item)
        if out.is_done(item, record, marker):
            continue
        if record is not None and record.state == "failed":
            retried.add(item.key)
        pending.append(item)
    check_output_paths(items, output, options, model)
    return BatchPlan(items, pending, retried, settings)


def check_output_paths(
    items: list[BatchInput], output: str, options: BatchOptions, model: str
) -> None:
    """Every track's stems get their own path (two inputs never write one file)."""
    from splifft_core.registry import resolve_manifest
    from splifft_core.separator import output_naming, plan_outputs

    manifest = resolve_manifest(model).manifest
    stems = list(options.stems) if options.stems else list(manifest.all_stems)
    template, names, ext = output_naming(options.file_format, options.filename, stems)
    root = Path(output) if not is_uri(output) else Path("/splifft-batch-output")
    plan_outputs(
        [(Path(item.location), root / item.subfolder) for item in items],
        template,
        names,
        ext,
        manifest.identifier,
    )


# -- one track ---------------------------------------------------------------------------------


@contextlib.contextmanager
def local_input(item: BatchInput, scratch: Path) -> Iterator[Path]:
    """The input as a local file: itself, or fetched from object storage into `scratch`."""
    if not is_uri(item.location):
        yield Path(item.location)
        return
    fs, path = filesystem(item.location)
    folder = Path(tempfile.mkdtemp(dir=scratch))
    local = folder / item.name
    try:
        fs.get_file(path, str(local))
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def track_folder(output: Output, item: BatchInput, staging: Path | None) -> Path:
    base = staging if staging is not None else Path(output.location)
    return base / item.subfolder


def finish_track(
    output: Output,
    item: BatchInput,
    written: list[Path],
    staging: Path | None,
    settings: str,
    audio_seconds: float,
    started: float,
) -> TrackRecord:
    """Publish a track's stems (uploaded when the output is remote) and record it done."""
    files = []
    for path in written:
        relative = relative_to_output(output, path, staging)
        files.append(OutputFile(path=relative, sha256=sha256_file(path), size=path.stat().st_size))
        if output.remote:
            output.upload(path, relative)
    return save_record(
        output,
        item,
        settings,
        state="done",
        outputs=files,
        audio_seconds=audio_seconds,
        wall_seconds=time.monotonic() - started,
    )


def failed_track(
    output: Output, item: BatchInput, error: BaseException, local: Path | None, settings: str
) -> TrackRecord:
    message = " ".join(str(error).split()) or type(error).__name__
    if not isinstance(error, SplifftError):
        message = f"{type(error).__name__}: {message}"
    if local is not None and str(local) != item.location:
        message = message.replace(str(local), item.location)
    return save_record(output, item, settings, state="failed", error=message)


def save_record(output: Output, item: BatchInput, settings: str, **fields: Any) -> TrackRecord:
    """Write a track's record, with what its input is now (size, mtime) and the settings."""
    size, mtime = input_stat(item)
    record = TrackRecord(
        input=item.location,
        key=item.key,
        input_size=size,
        input_mtime_ns=mtime,
        fingerprint=settings,
        **fields,
    )
    output.save_record(record)
    return record


def quiet(line: str) -> None:
    """The engine's one-line notes (a stem rescaled, …) are not printed per track in a batch."""


@dataclass
class Track:
    """One track on its way through a batch: its local file, plan and what it holds."""

    item: BatchInput
    started: float = field(default_factory=time.monotonic)
    local: Path | None = None
    plan: Any = None
    """Its `splifft_core.separator.TrackPlan`."""
    staging: Path | None = None
    """Where the stems are written first when the output is remote (uploaded from there)."""
    held: Any = None
    """The decoded track (`splifft_core.separator.HeldSource`), for one short enough to hold."""
    source: Any = None
    """The open `FileSource` of a track too long to hold: the model's stage streams it."""
    error: Exception | None = None
    context: contextlib.ExitStack[bool | None] = field(default_factory=contextlib.ExitStack)
    """Closes the local copy, the staging folder and the source once the track is written."""


def prepare_track(
    separator: Any, item: BatchInput, output: Output, options: BatchOptions, scratch: Path
) -> Track:
    """Fetch (object storage), plan the outputs (as `splifft run`) and remove the temporary
    files a killed earlier run left beside them."""
    from splifft_core.atomic import remove_stale_temporaries
    from splifft_core.separator import plan_track

    track = Track(item)
    track.local = track.context.enter_context(local_input(item, scratch))
    if output.remote:
        track.staging = Path(tempfile.mkdtemp(dir=scratch))
        track.context.callback(shutil.rmtree, track.staging, True)
    track.plan = plan_track(
        separator,
        track.local,
        track_folder(output, item, track.staging),
        protected=[track.local],
        **options.file_options(),
    )
    for destination in track.plan.destinations.values():
        remove_stale_temporaries(destination)
    return track


def separate_streamed(separator: Any, track: Track, source: Any) -> tuple[list[Path], float]:
    """The track through the engine block by block, as `splifft run` does; its stems and its
    seconds of audio."""
    from splifft_core.separator import write_track

    blocks = separator.stream(source, stems=track.plan.requested)
    written = write_track(separator, track.plan, source, blocks, notify=quiet)
    return written, source.info.frames / source.info.sample_rate


def separate_track(
    separator: Any,
    item: BatchInput,
    output: Output,
    options: BatchOptions,
    settings: str,
    scratch: Path,
) -> TrackRecord:
    """One track, streamed, recorded; never raises for the track's own errors."""
    track = Track(item)
    try:
        track = prepare_track(separator, item, output, options, scratch)
        with track.context, track.plan.open_source(separator, notify=quiet) as source:
            written, seconds = separate_streamed(separator, track, source)
            return finish_track(
                output, item, written, track.staging, settings, seconds, track.started
            )
    except Exception as exc:  # the track's own failure: recorded, the batch goes on
        return failed_track(output, item, exc, track.local, settings)


# -- the local pipeline ----------------------------------------------------------------------


def background_priority() -> None:
    """Lower this thread's CPU priority (Linux: nice 19 for the thread alone), so that the
    reader and the writer take the cores when the model's stage leaves them idle instead of
    slowing it down: on a CPU the model already keeps every core busy."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def run_pipeline(
    separator: Any,
    items: list[BatchInput],
    output: Output,
    options: BatchOptions,
    settings: str,
    scratch: Path,
    on_record: Callable[[TrackRecord], None],
    hold_seconds: float = HOLD_SECONDS,
) -> list[TrackRecord]:
    """Decode, separate and write overlapped (see the module's note); one record per item."""
    from splifft_core.separator import hold, write_track

    decoded: queue.Queue[Track | None] = queue.Queue(maxsize=1)
    separated: queue.Queue[tuple[Track, Any] | None] = queue.Queue(maxsize=1)
    records: list[TrackRecord] = []
    stop = threading.Event()

    def read() -> None:
        background_priority()
        try:
            for item in items:
                if stop.is_set():
                    return
                track = Track(item)
                try:
                    track = prepare_track(separator, item, output, options, scratch)
                    source = track.plan.open_source(separator, notify=quiet)
                    if source.length <= hold_seconds * separator.sample_rate:
                        with source:
                            track.held = hold(source)
                    else:
                        track.source = track.context.enter_context(source)
                except Exception as exc:  # the track's own failure, reported in order
                    track.error = exc
                decoded.put(track)
        finally:
            decoded.put(None)

    def write() -> None:
        background_priority()
        while (entry := separated.get()) is not None:
            track, result = entry
            record = write_one(track, result)
            records.append(record)
            on_record(record)

    def write_one(track: Track, result: Any) -> TrackRecord:
        """`result`: a held track's separated blocks, or a streamed one's (stems, seconds)."""
        try:
            if track.error is not None:
                raise track.error
            if track.held is not None:
                written = write_track(separator, track.plan, track.held, result, notify=quiet)
                seconds = track.held.info.frames / track.held.info.sample_rate
            else:
                written, seconds = result
            return finish_track(
                output, track.item, written, track.staging, settings, seconds, track.started
            )
        except Exception as exc:
            return failed_track(output, track.item, exc, track.local, settings)
        finally:
            track.context.close()

    reader = threading.Thread(target=read, name="splifft-batch-read", daemon=True)
    writer = threading.Thread(target=write, name="splifft-batch-write", daemon=True)
    reader.start()
    writer.start()
    try:
        while (track := decoded.get()) is not None:
            result: Any = None
            if track.error is None:
                try:
                    if track.held is not None:  # the engine's blocks are fresh tensors: no copy
                        result = list(separator.stream(track.held, stems=track.plan.requested))
                    else:  # too long to hold: streamed here, written as it goes
                        result = separate_streamed(separator, track, track.source)
                except Exception as exc:
                    track.error = exc
            separated.put((track, result))
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while decoded.get_nowait() is not None:
                pass
        separated.put(None)
        writer.join()
        reader.join(5)
    return records


# -- the entry point -------------------------------------------------------------------------


def separate_many(
    inputs: Sequence[str | Path],
    output: str | Path,
    options: BatchOptions | None = None,
    *,
    ray: bool | str = False,
    workers: int | None = None,
    gpus_per_worker: float = 0.0,
    cpus_per_worker: float = 1.0,
    on_record: Callable[[TrackRecord], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_download: Any = None,
    hold_seconds: float = HOLD_SECONDS,
    **option_values: Any,
) -> BatchReport:
    """Separate every track the inputs name into `output` (see the module's note).

    `options` (or its fields as keywords: `model=`, `file_format=`, `stems=`, …) apply to every
    track. `ray`: `True` for a local Ray instance (or the one `ray.init` already started), an
    address (`ray://head:10001`, `auto`) for a cluster; `workers` is then the actor pool's
    size (default: as many as the cluster's GPUs or CPUs allow) and `gpus_per_worker` /
    `cpus_per_worker` each actor's share. `on_start` hears how many tracks will run,
    `on_record` each track as it ends. Tracks longer than `hold_seconds` are streamed by the
    model's stage instead of decoded whole ahead of it.
    """
    options = options or BatchOptions(**option_values)
    out_location = str(output)
    plan = plan_batch([str(i) for i in inputs], out_location, options)
    out = Output(out_location)
    marker = fingerprint(plan.settings)
    report = BatchReport(skipped=[i for i in plan.inputs if i not in plan.pending])
    started = time.monotonic()
    listen = on_record or (lambda record: None)
    if on_start is not None:
        on_start(len(plan.pending))
    if plan.pending:
        if ray:
            from splifft.batch.on_ray import run_on_ray

            report.records = run_on_ray(
                plan.pending, out_location, options, marker, plan.settings["model"],
                address=None if ray is True else str(ray), workers=workers,
                gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker,
                on_record=listen,
            )  # fmt: skip
        else:
            import splifft_core.api as api

            separator = api.load_separator(
                plan.settings["model"], on_download=on_download, **options.load_options()
            )
            with tempfile.TemporaryDirectory(prefix="splifft-batch-") as scratch:
                report.records = run_pipeline(
                    separator, plan.pending, out, options, marker, Path(scratch), listen,
                    hold_seconds,
                )  # fmt: skip
    report.wall_seconds = time.monotonic() - started
    out.write_manifest(plan.inputs, plan.settings)
    report.manifest = out.join("splifft-batch.json")
    return report
