"""`splifft config`: read or set user settings such as the default model."""

from __future__ import annotations

import argparse
from typing import Any

from splifft.cli import render


def add_parser(subparsers: Any) -> None:
    from splifft_core.user_config import KEYS

    keys = "; ".join(f"{k}: {v}" for k, v in KEYS.items())
    parser = subparsers.add_parser(
        "config",
        help="show or set user settings (e.g. default_model)",
        description=f"Show the config, or set KEY to VALUE. Keys: {keys}.",
    )
    parser.add_argument("key", nargs="?", help="setting name")
    parser.add_argument("value", nargs="?", help="new value")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from splifft_core import paths
    from splifft_core.user_config import KEYS, default_model, read_config, write_value

    if args.key is None:
        print(f"# {paths.config_file()}")
        print(f"default_model = {default_model()!r}")
        return 0
    if args.value is None:
        if args.key == "default_model":
            print(default_model())
        elif args.key in KEYS:
            print(read_config().get(args.key, ""))
        else:
            from splifft_core.errors import ConfigError

            raise ConfigError(f"unknown config key {args.key!r} (known: {', '.join(KEYS)})")
        return 0
    path = write_value(args.key, args.value, notify=render.warn)
    print(f"{args.key} = {args.value!r} ({path})")
    return 0
