"""`splifft new-plugin`: the generated package installs, lists, runs, lints and passes its tests."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from splifft.cli import new_plugin
from splifft_core.errors import ConfigError, OutputError

REPO = Path(__file__).resolve().parent.parent
NAME = "toy_net"


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run(args, cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="splifft")
    new_plugin.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def require(module: str, why: str) -> None:
    """Skip without `module`, but fail in CI, which must install it (requirements-dev.txt)."""
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed: {why}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def test_cli_writes_the_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(["new-plugin", NAME, "--output", str(tmp_path)])
    assert args.handler(args) == 0
    root = tmp_path / "splifft-plugin-toy-net"
    assert f"created {root}" in capsys.readouterr().out
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "splifft_plugin_toy_net/__init__.py",
        "splifft_plugin_toy_net/manifests/toy_net-example-crossover.json",
        "splifft_plugin_toy_net/network.py",
        "splifft_plugin_toy_net/params.py",
        "splifft_plugin_toy_net/py.typed",
        "tests/test_toy_net_plugin.py",
    ]
    assert (
        '[project.entry-points.splifft]\ntoy_net = "splifft_plugin_toy_net"'
        in (root / "pyproject.toml").read_text()
    )
    with pytest.raises(OutputError, match="already exists"):
        args.handler(args)


@pytest.mark.parametrize("bad", ["Toy", "1net", "my-net", "my__net", "", "a b", "class"])
def test_bad_names_are_refused(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="plugin name"):
        new_plugin.render_plugin(bad, tmp_path)
    assert not any(tmp_path.iterdir())


def test_every_template_file_renders_and_names_are_mapped() -> None:
    templates = new_plugin.template_files()
    assert len(templates) >= 8
    rendered = new_plugin.render_files("abc")
    assert len(rendered) == len(templates)
    for path, text in rendered.items():
        assert "PACKAGE" not in path and "NAME" not in path and "IDENTIFIER" not in path
        assert "${" not in text, path
    manifest = json.loads(rendered["splifft_plugin_abc/manifests/abc-example-crossover.json"])
    from splifft_core.manifest import Manifest

    assert Manifest.model_validate(manifest).plugin == "splifft-plugin-abc"


def test_generated_code_passes_ruff(tmp_path: Path) -> None:
    require("ruff", "the generated code is linted with the project's ruff settings")
    root = new_plugin.render_plugin("lint_me", tmp_path)
    config = str(REPO / "pyproject.toml")
    for command in (["check"], ["format", "--check"]):
        result = run([sys.executable, "-m", "ruff", *command, "--config", config, str(root)], REPO)
        assert result.returncode == 0, result.stdout + result.stderr


def test_generated_code_passes_mypy_strict(tmp_path: Path) -> None:
    require("mypy", "the generated code is type-checked with the project's mypy settings")
    root = new_plugin.render_plugin("typed", tmp_path)
    # The project's cache: warm after CI's `mypy` run, so torch is not analysed again.
    command = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml")]
    command += ["--cache-dir", str(REPO / ".mypy_cache"), "splifft_plugin_typed", "tests"]
    result = run(command, root, {"MYPYPATH": str(REPO)})
    assert result.returncode == 0, result.stdout + result.stderr


def make_venv(path: Path) -> Path:
    """A throwaway venv that sees this interpreter's packages (torch, splifft, pytest, …).

    `--system-site-packages` alone reaches the base interpreter's site-packages, not those of a
    venv we may be running in, so a `.pth` file adds ours (with their own `.pth` files).
    """
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(path)],
        check=True,
        timeout=120,
    )
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    child_site = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], path
    ).stdout.strip()
    parents = [*site.getsitepackages(), site.getusersitepackages()]
    lines = [f"import site; site.addsitedir({p!r})" for p in parents if Path(p).is_dir()]
    Path(child_site, "_splifft_parent_site.pth").write_text("\n".join(lines) + "\n")
    return python


def test_generated_plugin_installs_and_its_tests_pass(tmp_path: Path) -> None:
    require("hatchling", "the plugin is built with hatchling (no build isolation, no network)")
    require("pip", "the plugin is installed with pip")
    root = new_plugin.render_plugin(NAME, tmp_path / "src")
    python = make_venv(tmp_path / "venv")

    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]
    install = run([*pip, *offline, str(root)], tmp_path)
    assert install.returncode == 0, install.stdout + install.stderr

    # its own tests, against the installed copy (-P: the source tree is not on sys.path)
    tests = run([str(python), "-P", "-m", "pytest", "-q", "tests"], root)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout

    # the host finds it through its entry point, as for a user
    autoload = {"SPLIFFT_DISABLE_PLUGIN_AUTOLOAD": "", "SPLIFFT_STRICT_PLUGINS": "1"}
    listing = run([str(python), "-m", "splifft", "plugins", "--json"], tmp_path, autoload)
    assert listing.returncode == 0, listing.stderr
    plugins = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert plugins[NAME]["distribution"] == "splifft-plugin-toy-net"
    assert plugins[NAME]["architectures"] == [NAME]
    assert plugins[NAME]["module"] == "splifft_plugin_toy_net"

    # and its example model separates a file from the command line
    out = tmp_path / "out"
    example = str(REPO / "examples" / "tones_and_clicks.flac")
    model = ["-m", "toy_net-example-crossover", "-o", str(out), "-q"]
    separate = run([str(python), "-m", "splifft", "run", example, *model], tmp_path, autoload)
    assert separate.returncode == 0, separate.stderr
    assert sorted(p.name for p in (out / "tones_and_clicks").iterdir()) == [
        "bass.flac",
        "other.flac",
    ]
