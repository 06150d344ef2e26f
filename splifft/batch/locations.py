"""Where a batch reads and writes: local paths, or object storage through fsspec.

An input is a file, a folder (searched recursively for audio files, its subfolders kept under
the output), a glob (`album/**/*.flac`), a list file (`.txt`: one input per line; `.csv`: the
column `path`, `input` or `file`, else the first), or a URI that fsspec reads (`s3://…` with
s3fs, `gs://…` with gcsfs, `memory://`, `file://`): folders, globs and files alike. The output
folder is a local path or such a URI.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from splifft_core.errors import AudioError, ConfigError

URI = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
GLOB_CHARS = re.compile(r"[*?\[]")
LIST_SUFFIXES = frozenset({".txt", ".csv", ".lst", ".m3u", ".m3u8"})
LIST_COLUMNS = ("path", "input", "file")


def is_uri(text: str) -> bool:
    return bool(URI.match(text))


@dataclass(frozen=True)
class BatchInput:
    """One track of a batch: where it is, and its folder relative to the input it came from."""

    location: str
    """A local path, or a URI."""
    subfolder: str = "."
    """Posix path under the output folder (a folder input's structure)."""

    @property
    def key(self) -> str:
        """Its name in the job's records: a digest of where it is."""
        return hashlib.sha256(self.location.encode()).hexdigest()[:24]

    @property
    def name(self) -> str:
        """The file name, with its extension."""
        return PurePosixPath(self.location.replace("\\", "/")).name


def filesystem(uri: str) -> tuple[Any, str]:
    """fsspec's filesystem for a URI, and the path inside it (one-line error when the scheme's
    package is missing, e.g. s3fs for `s3://`)."""
    try:
        import fsspec
    except ImportError:
        raise ConfigError(f"{uri}: object storage needs fsspec: pip install fsspec") from None
    try:
        fs, path = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"{uri}: {' '.join(str(exc).split())}") from None
    return fs, path


def _audio_extensions() -> frozenset[str]:
    from splifft_core.audio import audio_extensions

    return frozenset(audio_extensions())


def _remote_inputs(uri: str) -> list[BatchInput]:
    fs, path = filesystem(uri)
    scheme = uri.split("://", 1)[0]
    exts = _audio_extensions()

    def back(p: str) -> str:
        return f"{scheme}://{p.lstrip('/')}" if scheme != "file" else f"file://{p}"

    if GLOB_CHARS.search(path):
        found = sorted(fs.glob(path))
        files = [p for p in found if fs.isfile(p)]
        if not files:
            raise AudioError(f"{uri}: matches no files")
        return [BatchInput(back(p)) for p in files]
    if fs.isdir(path):
        root = path.rstrip("/")
        files = sorted(p for p in fs.find(root) if PurePosixPath(p).suffix.lower() in exts)
        if not files:
            raise AudioError(f"{uri}: folder holds no audio files")
        return [
            BatchInput(back(p), str(PurePosixPath(p).parent.relative_to(PurePosixPath(root))))
            for p in files
        ]
    if not fs.exists(path):
        raise AudioError(f"{uri}: no such file")
    return [BatchInput(uri)]


def _list_file(path: Path) -> list[str]:
    """The inputs a list file names, relative ones taken from the list's folder."""
    text = path.read_text("utf-8-sig")
    if path.suffix.lower() == ".csv":
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return []
        header = [c.strip().lower() for c in rows[0]]
        column = next((header.index(c) for c in LIST_COLUMNS if c in header), None)
        body = rows[1:] if column is not None else rows
        entries = [r[column or 0].strip() for r in body if r and len(r) > (column or 0)]
    else:
        entries = [line.strip() for line in text.splitlines()]
    entries = [e for e in entries if e and not e.startswith("#")]
    return [e if is_uri(e) or Path(e).is_absolute() else str(path.parent / e) for e in entries]


def collect_inputs(specs: list[str], output: str | None = None) -> list[BatchInput]:
    """Every track the specs name, in order, each once (see the module's note)."""
    from splifft.inputs import collect_inputs as collect_local

    exts = _audio_extensions()
    found: dict[str, BatchInput] = {}
    skip = Path(output) if output and not is_uri(output) else None

    def add(item: BatchInput) -> None:
        found.setdefault(item.location, item)

    for spec in specs:
        if is_uri(spec):
            for item in _remote_inputs(spec):
                add(item)
            continue
        path = Path(spec)
        if path.is_file() and path.suffix.lower() in LIST_SUFFIXES and path.suffix not in exts:
            for entry in collect_inputs(_list_file(path), output):
                add(entry)
            continue
        if GLOB_CHARS.search(spec) and not path.exists():
            matches = sorted(Path(m) for m in glob.glob(spec, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                raise AudioError(f"{spec}: matches no files")
            for file in files:
                add(BatchInput(str(file.resolve())))
            continue
        for file, sub in collect_local([path], skip):
            add(BatchInput(str(file.resolve()), sub.as_posix()))
    return list(found.values())
