"""Jobs of the web app: one folder per job under the jobs folder, its record in `job.json`.

A job folder holds `job.json`, the uploaded file under a generated name (`input.EXT`, removed once
the job has ended) and `stems/` with the outputs. Nothing a client sends becomes a path: the
folder is named by the job's random identifier, the input by `input` and the upload's extension
when that is plain letters and digits, and the stems by the model's stem names. A job folder
appears complete or not at all: the upload is staged in `.incoming-ID/` and renamed once its
record is written.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shutil
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from splifft_core.atomic import write_text_atomic

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
ACTIVE: tuple[JobState, ...] = ("queued", "running")
ENDED: tuple[JobState, ...] = ("done", "failed", "cancelled")
RECORD = "job.json"
INCOMING = ".incoming-"
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{16}$")
"""A job identifier: 12 random bytes, URL-safe base64 (route parameters are checked against it)."""
_EXTENSION = re.compile(r"^\.[a-z0-9]{1,10}$")
_NAME_DROP = re.compile(r"[\x00-\x1f\x7f\"\\/:*?<>|;]")


def new_job_id() -> str:
    return secrets.token_urlsafe(12)


def display_name(client_name: str | None) -> str:
    """The upload's file name as shown and offered for download: its last path part, without
    control characters, quotes, slashes or other characters that are unsafe in a header or a
    file name, at most 120 characters; `audio` when nothing is left."""
    name = (client_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = _NAME_DROP.sub("", name).strip().lstrip(".")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 119 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else name[:120]
    return name or "audio"


def input_file_name(client_name: str) -> str:
    """The generated name the upload is stored under: `input` and its extension, if plain."""
    suffix = Path(client_name).suffix.lower()
    return "input" + (suffix if _EXTENSION.match(suffix) else "")


class StemFile(BaseModel):
    stem: str
    file: str
    """The file's name in the job's `stems/` folder (from the stem's name and the format)."""
    size: int


class Job(BaseModel):
    """A job's record, as `job.json` holds it."""

    id: str
    name: str
    """The uploaded file's display name (`display_name`)."""
    model: str
    stems: list[str] | None = None
    """The stems asked for (`None`: all the model's)."""
    format: str = "flac"
    bitrate: str | None = None
    input_file: str
    state: JobState = "queued"
    stage: str = "queued"
    """What a running job does now: `loading model`, `separating`, `writing`."""
    progress: float = Field(0.0, ge=0.0, le=1.0)
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)
    outputs: list[StemFile] = Field(default_factory=list)
    created: float
    started: float | None = None
    finished: float | None = None
    device: str | None = None


@dataclass(frozen=True)
class Retention:
    """How long ended jobs are kept, and how much all jobs may take on disk."""

    max_age_s: float = 7 * 24 * 3600
    max_bytes: int = 20 * 1024**3


def folder_size(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
    return total


class JobStore:
    """The jobs in memory, each persisted in its folder; safe to use from several threads.

    `version` counts changes (progress included) so that event streams know when to speak.
    """

    def __init__(self, root: Path, retention: Retention = Retention()) -> None:
        self.root = root
        self.retention = retention
        self._jobs: dict[str, Job] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.RLock()
        self.version = 0

    # -- folders ------------------------------------------------------------------------------

    def folder(self, job_id: str) -> Path:
        if not JOB_ID.match(job_id):
            raise KeyError(job_id)
        return self.root / job_id

    def input_path(self, job: Job) -> Path:
        return self.folder(job.id) / job.input_file

    def stems_folder(self, job_id: str) -> Path:
        return self.folder(job_id) / "stems"

    @contextlib.contextmanager
    def incoming(self) -> Iterator[tuple[str, Path]]:
        """A new job identifier and its staging folder; the folder is removed unless `admit`
        moved it into place."""
        self.root.mkdir(parents=True, exist_ok=True)
        job_id = new_job_id()
        staging = self.root / f"{INCOMING}{job_id}"
        staging.mkdir()
        try:
            yield job_id, staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def admit(self, job: Job, staging: Path) -> Job:
        """Write the record into the staging folder, then move the folder into place."""
        write_text_atomic(staging / RECORD, job.model_dump_json(indent=1))
        staging.rename(self.folder(job.id))
        with self._lock:
            self._jobs[job.id] = job
            self._cancel[job.id] = threading.Event()
            self._touch()
        return job

    # -- records ------------------------------------------------------------------------------

    def load(self) -> list[Job]:
        """Read every job folder (after a restart); a job that was queued or running is queued
        again when its input is still there, else it failed. Staging folders and folders
        without a readable record are removed. Returns the jobs to queue, oldest first."""
        requeue: list[Job] = []
        if not self.root.is_dir():
            return requeue
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith(INCOMING):
                shutil.rmtree(folder, ignore_errors=True)
                continue
            if not folder.is_dir() or not JOB_ID.match(folder.name):
                continue
            try:
                job = Job.model_validate(json.loads((folder / RECORD).read_text("utf-8")))
            except (OSError, ValueError, ValidationError):
                shutil.rmtree(folder, ignore_errors=True)
                continue
            if job.id != folder.name:
                continue
            if job.state in ACTIVE:
                shutil.rmtree(folder / "stems", ignore_errors=True)
                if (folder / job.input_file).is_file():
                    job = job.model_copy(
                        update={"state": "queued", "stage": "queued", "progress": 0.0}
                    )
                    requeue.append(job)
                else:
                    job = job.model_copy(
                        update={
                            "state": "failed",
                            "error": "the server stopped before this job ran, and its input is gone",
                            "finished": time.time(),
                        }
                    )
                self._write(job)
            with self._lock:
                self._jobs[job.id] = job
                self._cancel[job.id] = threading.Event()
        with self._lock:
            self._touch()
        return sorted(requeue, key=lambda j: j.created)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created)

    def cancel_event(self, job_id: str) -> threading.Event:
        with self._lock:
            return self._cancel[job_id]

    def update(self, job_id: str, *, persist: bool = True, **changes: Any) -> Job:
        """Replace fields of a job; written to `job.json` unless `persist` is off (progress)."""
        with self._lock:
            job = self._jobs[job_id].model_copy(update=changes)
            self._jobs[job_id] = job
            self._touch()
        if persist:
            self._write(job)
        return job

    def transition(self, job_id: str, states: tuple[JobState, ...], **changes: Any) -> Job | None:
        """`update` only if the job is in one of `states` (checked and changed under one lock,
        so a worker claiming a job and a client cancelling it cannot both win)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.state not in states:
                return None
            return self.update(job_id, **changes)

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)
            self._cancel.pop(job_id, None)
            self._touch()
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def _write(self, job: Job) -> None:
        folder = self.folder(job.id)
        if folder.is_dir():
            write_text_atomic(folder / RECORD, job.model_dump_json(indent=1))

    def _touch(self) -> None:
        self.version += 1

    # -- retention ----------------------------------------------------------------------------

    def prune(self, now: float | None = None) -> list[str]:
        """Remove ended jobs older than the retention age, then the oldest ended jobs until all
        jobs fit the size limit; active jobs are never removed. Returns the removed ids."""
        now = time.time() if now is None else now
        removed: list[str] = []
        ended = [j for j in self.all() if j.state in ENDED]
        for job in ended:
            if now - (job.finished or job.created) > self.retention.max_age_s:
                self.remove(job.id)
                removed.append(job.id)
        sizes = {j.id: folder_size(self.folder(j.id)) for j in self.all()}
        total = sum(sizes.values())
        for job in sorted(
            (j for j in self.all() if j.state in ENDED), key=lambda j: j.finished or j.created
        ):
            if total <= self.retention.max_bytes:
                break
            total -= sizes.get(job.id, 0)
            self.remove(job.id)
            removed.append(job.id)
        return removed
