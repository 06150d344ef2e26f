"""The documentation: generated pages cover the code, and `mkdocs build --strict` passes."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from splifft.cli import build_parser, new_plugin
from tests.helpers import REPO
from tests.helpers import docs_hook as docs_hook  # re-exported: tests/test_settings.py uses it


def walk(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parser and all its subcommand parsers, recursively."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found.extend(walk(sub))
    return found


def test_cli_reference_covers_every_command_and_option() -> None:
    parser = build_parser()
    page = docs_hook().cli_reference(parser)
    parsers = walk(parser)
    assert len(parsers) > 3
    for sub in parsers[1:]:
        assert f"## `{sub.prog}`" in page or f"### `{sub.prog}`" in page, sub.prog
        assert sub.format_usage().split("\n")[0].split("[")[0].strip() in page
    for sub in parsers:
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"{option}" in page, f"{sub.prog} {option}"


def test_every_subcommand_module_is_registered() -> None:
    """A `splifft/cli/*.py` module with `add_parser` that `SUBCOMMANDS` misses is undocumented
    and unreachable."""
    from splifft.cli import SUBCOMMANDS

    modules = {
        path.stem
        for path in (REPO / "splifft" / "cli").glob("*.py")
        if "\ndef add_parser(" in path.read_text(encoding="utf-8")
    }
    assert sorted(modules - set(SUBCOMMANDS)) == [], "add these to splifft.cli.SUBCOMMANDS"


def test_cli_reference_picks_up_new_subcommands() -> None:
    parser = argparse.ArgumentParser(prog="splifft")
    new_plugin.add_parser(parser.add_subparsers(dest="command"))
    page = docs_hook().cli_reference(parser)
    assert "## `splifft new-plugin` {#splifft-new-plugin}" in page
    assert "`-o OUTPUT, --output OUTPUT`" in page
    assert "| `NAME` |" in page


def test_model_catalogue_lists_every_model_and_architecture() -> None:
    hook = docs_hook()
    catalogue = hook.load_catalogue()
    assert catalogue.problems == []
    page = hook.model_catalogue(catalogue)
    identifiers = [e.manifest.identifier for e in catalogue.registry]
    assert "hpss-fitzgerald-median" in identifiers
    for identifier in identifiers:
        assert f"### {identifier} {{#{identifier}}}" in page
    table = hook.architectures_table(catalogue)
    for name in catalogue.host.architectures():
        assert f"| `{name}` |" in table


def test_tutorial_shows_the_rendered_template() -> None:
    hook = docs_hook()
    tutorial = (REPO / "docs" / "plugins" / "tutorial.md").read_text()
    shown = set(hook.MARKER.findall(tutorial))
    rendered = new_plugin.render_files(hook.TUTORIAL_NAME)
    code = {path for kind, path in shown if kind == "template"}
    assert code and code <= set(rendered)
    assert {p for p in rendered if p.endswith(".py")} <= code
    assert "class ToyParams(BaseModel):" in hook.template_file("splifft_plugin_toy/params.py")


@pytest.mark.parametrize("present", [False, True])
def test_benchmarks_page_is_linked_only_when_present(tmp_path: Path, present: bool) -> None:
    hook = docs_hook()
    if present:
        (tmp_path / "benchmarks.md").write_text("# Benchmarks\n")
    nav: list[Any] = [{"Home": "index.md"}, {"Performance": "performance.md"}, {"X": "x.md"}]
    config = SimpleNamespace(plugins={}, docs_dir=str(tmp_path), nav=nav)
    hook.on_config(config)
    page = hook.MARKER.sub(
        lambda m: hook._replace(m, "performance.md", tmp_path), "<!-- splifft:benchmarks -->"
    )
    if present:
        assert nav[2] == {"Benchmarks": "benchmarks.md"}
        assert "(benchmarks.md)" in page
    else:
        assert len(nav) == 3
        assert "benchmarks.md" not in page


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        message = "mkdocs-material is not installed (pip install -r requirements-docs.txt)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    for page in ("index", "concepts/index", "cli/index", "models/index", "plugins/hooks/index"):
        assert (tmp_path / f"{page}.html").is_file() or (tmp_path / page).is_dir()
    models = (tmp_path / "models" / "index.html").read_text()
    assert "hpss-fitzgerald-median" in models
