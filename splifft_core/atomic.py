"""Atomic file writes: bytes go to a temporary sibling, renamed over the destination when complete.

Readers never see half a file, and a failed write (an exception, `KeyboardInterrupt` included)
leaves the destination as it was and no temporary file behind.

- [atomic_path][splifft_core.atomic.atomic_path]: a context manager yielding the temporary path
  (for writers that open the file themselves, e.g. soundfile);
- [atomic_open][splifft_core.atomic.atomic_open]: the same, yielding an open file;
- [write_text_atomic][splifft_core.atomic.write_text_atomic]: one string, one call;
- [create_temp][splifft_core.atomic.create_temp], [commit][splifft_core.atomic.commit] and
  [discard][splifft_core.atomic.discard]: the pieces, for writers whose commit comes later (the
  stem writers of one separation are committed together once every stem is done);
- [temporary_file][splifft_core.atomic.temporary_file]: a uniquely named scratch file that is
  removed at the latest when the process exits;
- [remove_stale_temporaries][splifft_core.atomic.remove_stale_temporaries]: what a killed
  process left beside a destination (a batch's rerun clears it);
- [cannot_write][splifft_core.atomic.cannot_write]: the one-line message for a write that failed
  (`PATH: cannot write WHAT (Read-only file system)`), naming a file that is in the way of a folder;
- [read_regular_text][splifft_core.atomic.read_regular_text]: the reading side, for the files
  splifft reads from its own folders: regular files only, so a FIFO or device named like a
  manifest is refused instead of blocking the command forever.

Every temporary file is registered before it exists and forgotten once it is committed or
discarded; whatever is still registered when the interpreter exits (an interrupt that landed
between creating a file and handing it to its owner's cleanup) is removed then. Only the process
that created a file removes it: a forked worker inherits the register but not the files.

The committed file gets the permissions a plain `open()` would give it: the existing
destination's mode, else `0o666` less the umask (`mkstemp` alone makes `0o600` files).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TEMP_SUFFIX = ".part"


_live: dict[Path, int] = {}
"""Temporary files not yet committed or discarded, with the id of the process that made them."""


@atexit.register
def _remove_leftovers() -> None:
    pid = os.getpid()
    for path, owner in list(_live.items()):
        if owner == pid:
            discard(path)


def _new_file(folder: Path, prefix: str, suffix: str) -> Path:
    """Create an empty file `{prefix}XXXXXXXX{suffix}` in `folder`, registered first: an
    interrupt at any point leaves nothing behind that exit does not remove."""
    for _ in range(100):
        path = folder / f"{prefix}{secrets.token_hex(4)}{suffix}"
        _live[path] = os.getpid()
        try:
            fd = os.open(
                path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600
            )
        except FileExistsError:
            _live.pop(path, None)
            continue
        except BaseException:
            _live.pop(path, None)
            raise
        os.close(fd)
        return path
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(folder))


def create_temp(destination: Path, suffix: str = TEMP_SUFFIX) -> Path:
    """An empty, new file `.{name}.XXXX.part` beside `destination` (its folder is created).

    Beside, so that the final rename stays on one file system and is atomic.
    """
    folder = destination.parent
    folder.mkdir(parents=True, exist_ok=True)
    return _new_file(folder, f".{destination.name}.", suffix)


def remove_stale_temporaries(destination: Path) -> None:
    """Remove the temporary files of `destination` that a killed process left behind (one
    killed with SIGKILL runs no cleanup). Only for a destination nothing else is writing now:
    a rerun of a batch over its own outputs."""
    for stale in destination.parent.glob(f".{destination.name}.*{TEMP_SUFFIX}"):
        stale.unlink(missing_ok=True)


def temporary_file(prefix: str, suffix: str, folder: Path | None = None) -> Path:
    """An empty, new scratch file in `folder` (default: the temporary folder, `TMPDIR`); remove
    it with `discard`, or exit removes it."""
    return _new_file(Path(folder or tempfile.gettempdir()), prefix, suffix)


def _plain_mode(destination: Path) -> int:
    """The mode `open(destination, "w")` would leave: the existing file's, else 0o666 − umask."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(destination.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def commit(temp: Path, destination: Path) -> Path:
    """Give `temp` plain-file permissions and rename it over `destination`; returns it."""
    os.chmod(temp, _plain_mode(destination))
    os.replace(temp, destination)
    _live.pop(temp, None)
    return destination


def discard(temp: Path) -> None:
    """Remove a temporary file; never raises (it runs on error paths)."""
    with contextlib.suppress(OSError):
        temp.unlink(missing_ok=True)
        _live.pop(temp, None)


@contextlib.contextmanager
def atomic_path(destination: Path, suffix: str = TEMP_SUFFIX) -> Iterator[Path]:
    """Yield a temporary path beside `destination`; renamed onto it when the block succeeds.

    On any exception (`BaseException` too) the temporary file is removed and `destination` is
    untouched; the exception propagates.
    """
    temp = create_temp(destination, suffix)
    try:
        yield temp
        commit(temp, destination)
    except BaseException:
        discard(temp)
        raise


@contextlib.contextmanager
def atomic_open(
    destination: Path,
    mode: str = "w",
    *,
    encoding: str | None = "utf-8",
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """`open()` for writing, atomically: the file appears at `destination` when the block ends."""
    if not any(c in mode for c in "wx") or "+" in mode:
        raise ValueError(f"atomic_open writes a new file; mode {mode!r} is not 'w' or 'wb'")
    binary = "b" in mode
    with (
        atomic_path(destination) as temp,
        open(
            temp,
            mode.replace("x", "w"),
            encoding=None if binary else encoding,
            newline=None if binary else newline,
        ) as file,
    ):
        yield file


def write_text_atomic(
    destination: Path, text: str, *, encoding: str = "utf-8", newline: str | None = None
) -> Path:
    """Write `text` to `destination` atomically; returns `destination`."""
    with atomic_open(destination, "w", encoding=encoding, newline=newline) as file:
        file.write(text)
    return destination


# -- failures and the reading side -------------------------------------------------------------


class NotRegularFileError(OSError):
    """A path that should hold a file holds a FIFO, a device, a socket or a folder."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def read_regular_text(path: Path, encoding: str = "utf-8") -> str:
    """The text of `path`, which must be a regular file (a symlink to one is fine).

    The file is opened without blocking and checked on its open descriptor, so a FIFO (which
    would block the reader until someone writes to it) or a device raises `NotRegularFileError`,
    an `OSError` whose `strerror` says what it is; other errors are the `OSError`s and
    `UnicodeDecodeError` of a plain read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    with open(fd, "rb", closefd=True) as file:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(
                errno.EINVAL, f"not a regular file ({_kind(mode)})", str(path)
            )
        data = file.read()
    return data.decode(encoding)


def _file_in_the_way(path: Path) -> Path | None:
    """The first ancestor of `path` (or `path` itself) that exists and is not a folder."""
    for candidate in [*reversed(path.parents), path][1:]:
        try:
            mode = candidate.stat().st_mode
        except OSError:
            return None
        if not stat.S_ISDIR(mode):
            return candidate
    return None


def os_reason(exc: OSError, path: Path | None = None) -> str:
    """Why an OS call failed, short: `Read-only file system`, or for a path whose folder cannot
    exist because a file is in the way, `/x/file.txt is a file, not a folder`."""
    if path is not None and exc.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = _file_in_the_way(path.parent)
        if blocker is not None:
            return f"{blocker} is a file, not a folder"
    return exc.strerror or " ".join(str(exc).split()) or type(exc).__name__


def cannot_write(path: Path, exc: OSError, what: str = "") -> str:
    """The one-line message for a failed write of `path`: `PATH: cannot write WHAT (reason)`."""
    return f"{path}: cannot write{' ' + what if what else ''} ({os_reason(exc, path)})"
