"""`splifft plugins`: installed plugins, their architectures, the ones that failed, and the
architecture names two plugins provide (withheld from both until one is uninstalled)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from splifft.cli import render


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plugins",
        help="list installed plugins, their architectures and load failures",
        description="List installed plugins (entry-point group 'splifft'), their versions and "
        "architectures, plugins that failed to load, and architecture names provided by more "
        "than one plugin (such a name works for none of them until one is uninstalled).",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from splifft_core.plugins import get_host

    host = get_host()
    archs = host.plugin_architectures()
    conflicts = host.conflicts()
    conflicting: dict[str, list[str]] = {}
    for conflict in conflicts:
        for provider in conflict.providers:
            conflicting.setdefault(provider.name, []).append(conflict.name)
    loaded: list[dict[str, Any]] = [
        {
            "name": p.name,
            "distribution": p.distribution,
            "version": p.version,
            "module": p.module,
            "architectures": archs.get(p.name, []),
            "conflicting": conflicting.get(p.name, []),
        }
        for p in host.plugins
    ]
    failed: list[dict[str, Any]] = [
        {
            "name": f.name,
            "distribution": f.distribution,
            "version": f.version,
            "stage": f.stage,
            "error": f.error,
        }
        for f in host.failures
    ]
    conflicted: list[dict[str, Any]] = [
        {
            "architecture": c.name,
            "providers": [
                {"name": p.name, "distribution": p.distribution, "version": p.version}
                for p in c.providers
            ],
            "message": c.describe(),
        }
        for c in conflicts
    ]
    if args.json:
        print(json.dumps({"plugins": loaded, "failed": failed, "conflicts": conflicted}, indent=2))
        return 0
    render.table(
        "plugins",
        ["plugin", "distribution", "version", "architectures"],
        [
            [
                str(p["name"]),
                str(p["distribution"] or "-"),
                str(p["version"] or "-"),
                ", ".join([*p["architectures"], *(f"{a} (conflict)" for a in p["conflicting"])])
                or "-",
            ]
            for p in loaded
        ],
    )
    if failed:
        keys = ("name", "distribution", "version", "stage", "error")
        render.table(
            "failed",
            ["plugin", "distribution", "version", "stage", "error"],
            [[str(f[k] or "-") for k in keys] for f in failed],
        )
    if conflicts:
        render.table(
            "conflicts",
            ["architecture", "provided by", "what to do"],
            [
                [
                    c.name,
                    ", ".join(
                        " ".join(filter(None, (p.distribution or p.name, p.version)))
                        for p in c.providers
                    ),
                    "uninstall one" if len(c.providers) == 2 else "uninstall all but one",
                ]
                for c in conflicts
            ],
        )
        for conflict in conflicts:
            render.warn(conflict.describe())
    return 0
