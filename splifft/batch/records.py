"""The job's records in the output folder: one per track, written when the track ends.

`OUT/.splifft-batch/KEY.json` says a track's state (`done` or `failed`), its outputs with their
sha256 and size, its error, the seconds of audio, what the input was (size, mtime) and the
settings' fingerprint. A track's record is written only after its stems are in place, so a job
killed at any point leaves every finished track recorded and no other. `OUT/splifft-batch.json`
is the job manifest: every input with its state, written at the end of each run from the
records.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from splifft.batch.locations import BatchInput, filesystem, is_uri
from splifft_core.atomic import write_text_atomic

RECORDS = ".splifft-batch"
MANIFEST = "splifft-batch.json"
TrackState = Literal["done", "failed"]


class OutputFile(BaseModel):
    path: str
    """Posix path under the output folder."""
    sha256: str
    size: int


class TrackRecord(BaseModel):
    input: str
    key: str
    state: TrackState
    outputs: list[OutputFile] = Field(default_factory=list)
    error: str | None = None
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    input_size: int | None = None
    input_mtime_ns: int | None = None
    fingerprint: str


def fingerprint(settings: dict[str, Any]) -> str:
    """A digest of the settings that shape the outputs (model, format, stems, chunking, …)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_stat(item: BatchInput) -> tuple[int | None, int | None]:
    """The input's size and mtime (ns; `None` on object storage), to notice a changed input."""
    if is_uri(item.location):
        fs, path = filesystem(item.location)
        try:
            return int(fs.size(path)), None
        except (OSError, TypeError):
            return None, None
    try:
        st = os.stat(item.location)
    except OSError:
        return None, None
    return st.st_size, st.st_mtime_ns


class Output:
    """The output folder (local or a URI): stems, records and the manifest go there."""

    def __init__(self, location: str) -> None:
        self.location = location.rstrip("/") if is_uri(location) else location
        self.remote = is_uri(location)
        if self.remote:
            self.fs, self.root = filesystem(self.location)

    def join(self, relative: str) -> str:
        if self.remote:
            return f"{self.root.rstrip('/')}/{relative}"
        return str(Path(self.location) / relative)

    def read_text(self, relative: str) -> str | None:
        try:
            if self.remote:
                data: bytes = self.fs.cat_file(self.join(relative))
                return data.decode()
            return Path(self.join(relative)).read_text("utf-8")
        except (OSError, FileNotFoundError):
            return None

    def write_text(self, relative: str, text: str) -> None:
        if self.remote:
            self.fs.pipe_file(self.join(relative), text.encode())  # one PUT: all or nothing
            return
        target = Path(self.join(relative))
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, text)

    def upload(self, local: Path, relative: str) -> None:
        """Copy a finished local file to its place (object stores show an object whole)."""
        self.fs.put_file(str(local), self.join(relative))

    def size(self, relative: str) -> int | None:
        try:
            if self.remote:
                return int(self.fs.size(self.join(relative)))
            return Path(self.join(relative)).stat().st_size
        except (OSError, FileNotFoundError):
            return None

    # -- records ---------------------------------------------------------------------------

    def record(self, item: BatchInput) -> TrackRecord | None:
        text = self.read_text(f"{RECORDS}/{item.key}.json")
        if text is None:
            return None
        try:
            return TrackRecord.model_validate_json(text)
        except ValidationError:
            return None

    def save_record(self, record: TrackRecord) -> None:
        self.write_text(f"{RECORDS}/{record.key}.json", record.model_dump_json(indent=1))

    def is_done(self, item: BatchInput, record: TrackRecord | None, settings: str) -> bool:
        """`record` (the item's) is done, for these settings and this input, and every output
        is still there."""
        if record is None or record.state != "done" or record.fingerprint != settings:
            return False
        size, mtime = input_stat(item)
        if (record.input_size, record.input_mtime_ns) != (size, mtime):
            return False
        return all(self.size(o.path) == o.size for o in record.outputs)

    def write_manifest(self, items: list[BatchInput], settings: dict[str, Any]) -> dict[str, Any]:
        """The job manifest from the records (`pending` for a track without one)."""
        tracks = []
        for item in items:
            record = self.record(item)
            tracks.append(
                {"input": item.location, "state": "pending"}
                if record is None
                else record.model_dump(exclude={"key"})
            )
        manifest = {"settings": settings, "fingerprint": fingerprint(settings), "tracks": tracks}
        self.write_text(MANIFEST, json.dumps(manifest, indent=1))
        return manifest


def relative_to_output(output: Output, path: Path, staging: Path | None) -> str:
    """A written file's posix path under the output folder."""
    base = staging if staging is not None else Path(output.location)
    return PurePosixPath(path.resolve().relative_to(base.resolve())).as_posix()
