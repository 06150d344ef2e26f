"""`splifft plugins`: installed plugins, their architectures, and the ones that failed."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plugins",
        help="list installed plugins, their architectures and load failures",
        description="List installed plugins (entry-point group 'splifft'), their versions and "
        "architectures, and plugins that failed to load.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from splifft_core.plugins import get_host

    host = get_host()
    archs = host.plugin_architectures()
    loaded = [
        {
            "name": p.name,
            "distribution": p.distribution,
            "version": p.version,
            "module": p.module,
            "architectures": archs.get(p.name, []),
        }
        for p in host.plugins
    ]
    failed = [
        {
            "name": f.name,
            "distribution": f.distribution,
            "version": f.version,
            "stage": f.stage,
            "error": f.error,
        }
        for f in host.failures
    ]
    if args.json:
        print(json.dumps({"plugins": loaded, "failed": failed}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table("plugin", "distribution", "version", "architectures", title="plugins")
    for p in loaded:
        table.add_row(
            str(p["name"]),
            str(p["distribution"] or "-"),
            str(p["version"] or "-"),
            ", ".join(p["architectures"]) or "-",  # type: ignore[arg-type]
        )
    console.print(table)
    if failed:
        errors = Table("plugin", "distribution", "version", "stage", "error", title="failed")
        for f in failed:
            errors.add_row(
                *(str(f[k] or "-") for k in ("name", "distribution", "version", "stage", "error"))
            )
        console.print(errors)
    return 0
