"""Everything the command line draws: messages, tables and progress bars.

The core reports through return values and callbacks (`splifft_core.hub.Notify`,
`splifft_core.hub.DownloadProgress`, `splifft_core.engine.ProgressCallback`); this module turns
them into text. Messages go to stderr as `splifft: …` lines; tables go to stdout (piped tables
are not cut to 80 columns); progress bars are drawn on stderr only when it is a terminal and the
command is not `--quiet`. rich is imported only when something is drawn, so `splifft --help`
stays light.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from splifft_core.engine import ProgressCallback
    from splifft_core.hub import DownloadProgress

PREFIX = "splifft:"

_live: Any = None
"""The rich `Progress` on screen now, if any: messages are printed above it."""


# -- messages -----------------------------------------------------------------------------------


def _emit(line: str) -> None:
    if _live is not None:
        _live.console.print(line, markup=False, highlight=False, soft_wrap=True)
    else:
        print(line, file=sys.stderr)


def error(message: str) -> None:
    """`splifft: error: …` on stderr."""
    _emit(f"{PREFIX} error: {message}")


def warn(message: str) -> None:
    """`splifft: warning: …` on stderr."""
    _emit(f"{PREFIX} warning: {message}")


def note(message: str) -> None:
    """`splifft: …` on stderr (what the core reports through `Notify`)."""
    _emit(f"{PREFIX} {message}")


def status(message: str, quiet: bool = False) -> None:
    """A progress line on stderr, only on a terminal and unless `quiet`."""
    if _showing(quiet):
        _emit(message)


# -- tables -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str
    justify: Literal["left", "right"] = "left"
    no_wrap: bool = False
    fold: bool = False
    """Fold long values onto several lines instead of cutting them."""


Rows = Sequence[Sequence[str]]


def table(
    title: str | None,
    columns: Sequence[Column | str],
    rows: Rows,
    *more_sections: Rows,
    file: IO[str] | None = None,
) -> None:
    """Print a table; every extra `Rows` argument is a section below a rule."""
    from rich.console import Console
    from rich.table import Table

    grid = Table(title=title)
    for column in columns:
        c = Column(column) if isinstance(column, str) else column
        grid.add_column(
            c.header,
            justify=c.justify,
            no_wrap=c.no_wrap,
            overflow="fold" if c.fold else "ellipsis",
            min_width=len(c.header) if c.no_wrap else None,
        )
    sections = [rows, *more_sections]
    for k, section in enumerate(sections):
        for i, row in enumerate(section):
            last = i == len(section) - 1 and k < len(sections) - 1
            grid.add_row(*row, end_section=last)
    out = file or sys.stdout
    width = None if getattr(out, "isatty", lambda: False)() else 10_000
    Console(file=out, width=width).print(grid)


# -- progress -----------------------------------------------------------------------------------


def _showing(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


@contextlib.contextmanager
def _progress(*columns: Any) -> Iterator[Any]:
    global _live
    from rich.console import Console
    from rich.progress import BarColumn, Progress

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        *columns,
        console=Console(stderr=True),
        transient=True,
    )
    outer, _live = _live, progress
    try:
        with progress:
            yield progress
    finally:
        _live = outer


@contextlib.contextmanager
def downloads(quiet: bool = False) -> Iterator[DownloadProgress]:
    """A `DownloadProgress` drawing one bar per file (silent off a terminal or when `quiet`).

    Pass it on even when silent: without one, a Hub download draws huggingface_hub's own bar.
    """
    if not _showing(quiet):
        yield _silent_download
        return
    from rich.progress import DownloadColumn, TransferSpeedColumn

    with _progress(DownloadColumn(), TransferSpeedColumn()) as progress:
        tasks: dict[str, Any] = {}

        def update(filename: str, done_bytes: int, total_bytes: int | None) -> None:
            if filename not in tasks:
                tasks[filename] = progress.add_task(filename, total=total_bytes)
            progress.update(tasks[filename], completed=done_bytes, total=total_bytes)

        yield update


def _silent_download(filename: str, done_bytes: int, total_bytes: int | None) -> None:
    return None


@contextlib.contextmanager
def chunks(name: str, quiet: bool = False) -> Iterator[ProgressCallback | None]:
    """A separation's `ProgressCallback` (chunks done of total) drawn as a bar named `name`."""
    if not _showing(quiet):
        yield None
        return
    from rich.progress import MofNCompleteColumn, TimeRemainingColumn

    with _progress(MofNCompleteColumn(), TimeRemainingColumn()) as progress:
        task = progress.add_task(name, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


@contextlib.contextmanager
def counter(
    name: str, quiet: bool = False
) -> Iterator[tuple[Callable[[], None], Callable[[int], None]]]:
    """A bar counting items done (a batch's tracks): `(advance, set_total)`."""
    if not _showing(quiet):
        yield (lambda: None), (lambda total: None)
        return
    from rich.progress import MofNCompleteColumn, TimeRemainingColumn

    with _progress(MofNCompleteColumn(), TimeRemainingColumn()) as progress:
        task = progress.add_task(name, total=None)
        yield (lambda: progress.advance(task)), (lambda total: progress.update(task, total=total))
