"""The `splifft` command. Each subcommand lives in its own module with `add_parser` and `run`.

Nothing here imports torch: `splifft --help`, `splifft plugins` and `splifft ls` stay light.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from types import FrameType

from splifft.cli import render
from splifft_core import __version__
from splifft_core.errors import SplifftError

SUBCOMMANDS = (
    "run",
    "batch",
    "serve",
    "plugins",
    "models",
    "config",
    "eval",
    "ensemble",
    "new_plugin",
)
"""Modules of `splifft.cli` that register subcommands, in help order."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="splifft",
        description="Separate music into stems (vocals, drums, bass, …) with community models.",
    )
    parser.add_argument("--version", action="version", version=f"splifft {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"splifft.cli.{name}")
        except ImportError:  # an optional subcommand module not present in this build
            continue
        module.add_parser(subparsers)
    return parser


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM or SIGHUP, so that the cleanup a Ctrl-C runs (the
    stems' temporary files, resampled copies) runs too; `main` exits with `128 + signum`.

    A `KeyboardInterrupt`: what is isolated with `except Exception` (or, in the plugin host,
    everything but `KeyboardInterrupt`) lets it pass, as it lets Ctrl-C pass.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


TERMINATING = tuple(
    s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None
)

GRACE_SECONDS = 2.0
"""A repeated signal within this time of the first is ignored, so it cannot cut the cleanup
short; a later one raises again (something swallowed the first)."""

_first_signal: float | None = None


def _terminate(signum: int, frame: FrameType | None) -> None:
    global _first_signal
    now = time.monotonic()
    if _first_signal is not None and now - _first_signal < GRACE_SECONDS:
        return
    _first_signal = now
    raise Terminated(signum)


@contextlib.contextmanager
def _terminating_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise `Terminated` (only from the main thread); restored after."""
    global _first_signal
    _first_signal = None
    previous: dict[int, object] = {}
    try:
        for signum in TERMINATING:
            previous[signum] = signal.signal(signum, _terminate)
    except ValueError:  # not the main thread: leave the signals as they are
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, handler)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        with _terminating_signals():
            return int(args.handler(args))
    except Terminated as exc:
        render.note(f"terminated ({signal.Signals(exc.signum).name})")
        return 128 + exc.signum
    except SplifftError as exc:
        render.error(str(exc))
        return 1
    except KeyboardInterrupt:
        render.note("interrupted")
        return 130
    except BrokenPipeError:
        # stdout closed early (e.g. `splifft ls --json | head`): not an error worth a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
