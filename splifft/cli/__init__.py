"""The `splifft` command. Each subcommand lives in its own module with `add_parser` and `run`.

Nothing here imports torch: `splifft --help`, `splifft plugins` and `splifft ls` stay light.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from splifft_core import __version__
from splifft_core.errors import SplifftError

SUBCOMMANDS = ("run", "plugins", "models", "config", "eval", "new_plugin")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except SplifftError as exc:
        print(f"splifft: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("splifft: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed early (e.g. `splifft ls --json | head`): not an error worth a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
