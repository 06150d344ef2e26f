"""`splifft new-plugin`: write a working plugin package from the template.

The template lives in `splifft_core/plugin_template/` as `*.tmpl` files rendered with
`string.Template`; `PACKAGE`, `NAME` and `IDENTIFIER` in a file's path are replaced too.
"""

from __future__ import annotations

import argparse
import keyword
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template
from typing import Any

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
"""An architecture name: it is also the entry-point name and part of the package name."""

TEMPLATE_SUFFIX = ".tmpl"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "new-plugin",
        help="create a plugin package (a working toy architecture with its tests)",
        description="Create `splifft-plugin-NAME/` from the plugin template: a pyproject with "
        "the `splifft` entry point, torch-free hooks, a pydantic params model, a small network "
        "using the stft_mask archetype, a manifest, and tests that run the contract kit. "
        "Install it with `pip install -e`, then `splifft plugins` lists it.",
    )
    parser.add_argument(
        "name",
        metavar="NAME",
        help="architecture name: lowercase letters, digits and underscores, e.g. my_net",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("."),
        help="folder to create the package in (default: the current folder)",
    )
    parser.set_defaults(handler=run)


def template_values(name: str) -> dict[str, str]:
    """The substitutions for architecture `name` (see the template files)."""
    check_name(name)
    return {
        "name": name,
        "package": f"splifft_plugin_{name}",
        "distribution": f"splifft-plugin-{name.replace('_', '-')}",
        "class_name": "".join(part.capitalize() for part in name.split("_") if part),
        "identifier": f"{name}-example-crossover",
    }


def check_name(name: str) -> None:
    from splifft_core.errors import ConfigError

    if not re.match(NAME_PATTERN, name) or keyword.iskeyword(name) or "__" in name:
        raise ConfigError(
            f"plugin name {name!r}: use lowercase letters, digits and single underscores, "
            "starting with a letter (e.g. my_net)"
        )


def template_root() -> Traversable:
    return resources.files("splifft_core").joinpath("plugin_template")


def template_files(root: Traversable | None = None) -> list[tuple[str, Traversable]]:
    """`(relative path, file)` of every template file, sorted."""
    found: list[tuple[str, Traversable]] = []

    def walk(folder: Traversable, prefix: str) -> None:
        for item in folder.iterdir():
            rel = f"{prefix}{item.name}"
            if item.is_dir():
                if item.name != "__pycache__":
                    walk(item, rel + "/")
            elif item.name.endswith(TEMPLATE_SUFFIX):
                found.append((rel, item))

    walk(root or template_root(), "")
    return sorted(found, key=lambda pair: pair[0])


def output_name(relative: str, values: dict[str, str]) -> str:
    """`PACKAGE/manifests/IDENTIFIER.json.tmpl` → `splifft_plugin_x/manifests/x-….json`."""
    parts = []
    for part in relative.removesuffix(TEMPLATE_SUFFIX).split("/"):
        part = part.replace("PACKAGE", values["package"])
        part = part.replace("IDENTIFIER", values["identifier"])
        parts.append(part.replace("NAME", values["name"]))
    return "/".join(parts)


def render_files(name: str) -> dict[str, str]:
    """Relative output path → rendered text, for architecture `name`."""
    values = template_values(name)
    return {
        output_name(rel, values): Template(item.read_text(encoding="utf-8")).substitute(values)
        for rel, item in template_files()
    }


def render_plugin(name: str, output: Path) -> Path:
    """Write `output/splifft-plugin-NAME/` and return its path; an existing folder is an error."""
    from splifft_core.errors import OutputError

    files = render_files(name)
    target = Path(output) / template_values(name)["distribution"]
    if target.exists():
        raise OutputError(f"{target}: already exists; choose another --output or name")
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def run(args: argparse.Namespace) -> int:
    target = render_plugin(args.name, args.output)
    values = template_values(args.name)
    print(f"created {target}")
    print("next:")
    print(f"  pip install --no-deps -e {target}")
    print(f"  splifft plugins                    # lists {values['name']}")
    print(f"  python -m pytest {target / 'tests'}")
    print(f"  splifft run song.flac -m {values['identifier']}")
    return 0
