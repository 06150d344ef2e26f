"""The job queue: one worker thread per device, each holding the last model it loaded.

A device runs one job at a time, since its memory (a GPU's above all) is what limits a
separation. Cancelling a running job, or stopping the server, takes effect between two batches
of chunks: the progress callback raises, the stem writers discard their temporary files, and
nothing partial is left. A job stopped by the server's shutdown is queued again when it restarts.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splifft.server.jobs import Job, JobStore, StemFile
from splifft_core.errors import SplifftError

log = logging.getLogger("splifft.server")

OUTPUT_TEMPLATE = "{stem}.{ext}"
"""Stem files are named by the stem alone inside the job's `stems/` folder."""


class JobCancelled(Exception):  # noqa: N818 (a signal to stop, not an error)
    """The job was cancelled while it ran."""


class ServerStopping(Exception):  # noqa: N818 (a signal to stop, not an error)
    """The server is shutting down: the job goes back to the queue."""


@dataclass
class Loaded:
    """The separator a worker holds, and the model identifier it was loaded for."""

    model: str | None = None
    separator: Any = None


Runner = Callable[[Job, JobStore, str, Loaded, Callable[[], None]], list[StemFile]]
"""`(job, store, device, loaded, check) -> outputs`; `check()` raises `JobCancelled` or
`ServerStopping` when the job must stop (call it between blocks)."""


def release_device_memory() -> None:
    """Hand a dropped model's GPU memory back (torch's caching allocator keeps it otherwise)."""
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def separate_job(
    job: Job, store: JobStore, device: str, loaded: Loaded, check: Callable[[], None]
) -> list[StemFile]:
    """Separate a job's input into its `stems/` folder with the engine."""
    warnings: list[str] = []
    if loaded.model != job.model:
        loaded.model, loaded.separator = None, None  # free the old model before the new one
        release_device_memory()
        import splifft_core.api as api

        def on_download(filename: str, done: int, total: int | None) -> None:
            fraction = min(done / total, 1.0) if total else 0.0
            store.update(job.id, stage=f"downloading {filename}", progress=fraction, persist=False)

        loaded.separator = api.load_separator(
            job.model,
            device=device,
            notify=lambda line: log.info("%s", line),
            on_download=on_download,
        )
        store.update(job.id, stage="loading model", progress=0.0, persist=False)
        loaded.model = job.model
    check()
    store.update(job.id, stage="separating", progress=0.0, persist=False)

    def on_progress(done: int, total: int) -> None:
        check()
        store.update(job.id, progress=0.95 * done / max(total, 1), persist=False)

    source = store.input_path(job)
    written: list[Path] = loaded.separator.separate_file(
        source,
        store.stems_folder(job.id),
        filename=OUTPUT_TEMPLATE,
        file_format=job.format,
        bitrate=job.bitrate,
        stems=job.stems,
        protected=[source],
        on_progress=on_progress,
        notify=warnings.append,
    )
    store.update(job.id, stage="writing", progress=0.99, warnings=[
        public_message(w, job, store) for w in warnings
    ], persist=False)  # fmt: skip
    return [StemFile(stem=p.stem, file=p.name, size=p.stat().st_size) for p in written]


def public_message(message: str, job: Job, store: JobStore) -> str:
    """A message with the server's own paths replaced by what the client knows."""
    folder = store.folder(job.id)
    message = message.replace(str(store.input_path(job)), job.name)
    return message.replace(str(folder) + "/", "").replace(str(folder), "job")


@dataclass
class Workers:
    """The queue and its worker threads, one per device."""

    store: JobStore
    devices: Sequence[str]
    runner: Runner = separate_job
    queue: queue.Queue[str | None] = field(default_factory=queue.Queue)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for device in self.devices:
            thread = threading.Thread(
                target=self._work, args=(device,), name=f"splifft-worker-{device}", daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def submit(self, job_id: str) -> None:
        self.queue.put(job_id)

    def pending(self) -> int:
        return sum(1 for j in self.store.all() if j.state == "queued")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the running jobs' current batch (they are queued again)."""
        self.stopping.set()
        for _ in self.threads:
            self.queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self, device: str) -> None:
        loaded = Loaded()
        while True:
            job_id = self.queue.get()
            if job_id is None or self.stopping.is_set():
                return
            job = self.store.transition(
                job_id,
                ("queued",),
                state="running",
                stage="loading model",
                started=time.time(),
                device=device,
            )
            if job is None:  # cancelled or removed while it waited
                continue
            try:
                self._run(job, device, loaded)
            except Exception:  # never let one job end the worker
                log.exception("job %s", job_id)

    def _run(self, job: Job, device: str, loaded: Loaded) -> None:
        store = self.store
        cancel = store.cancel_event(job.id)

        def check() -> None:
            if cancel.is_set():
                raise JobCancelled
            if self.stopping.is_set():
                raise ServerStopping

        try:
            outputs = self.runner(job, store, device, loaded, check)
        except ServerStopping:
            shutil.rmtree(store.stems_folder(job.id), ignore_errors=True)
            store.update(job.id, state="queued", stage="queued", progress=0.0)
            return
        except JobCancelled:
            self._ended(job, state="cancelled", stage="cancelled")
        except SplifftError as exc:
            self._ended(
                job, state="failed", stage="failed", error=public_message(str(exc), job, store)
            )
        except Exception as exc:
            log.exception("job %s failed", job.id)
            loaded.model, loaded.separator = None, None
            self._ended(
                job,
                state="failed",
                stage="failed",
                error=f"internal error: {type(exc).__name__}: "
                + public_message(" ".join(str(exc).split()), job, store),
            )
        else:
            self._ended(job, state="done", stage="done", progress=1.0, outputs=outputs)
        store.prune()

    def _ended(self, job: Job, **changes: Any) -> None:
        store = self.store
        if changes["state"] != "done":
            shutil.rmtree(store.stems_folder(job.id), ignore_errors=True)
        store.input_path(job).unlink(missing_ok=True)
        if store.get(job.id) is not None:
            store.update(job.id, finished=time.time(), **changes)
