"""The distributions a user installs: splifft-core, splifft (the app), one per first-party plugin."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLUGINS = sorted((REPO / "plugins").glob("splifft-plugin-*"))


def project(folder: Path) -> dict[str, object]:
    data = tomllib.loads((folder / "pyproject.toml").read_text())
    table: dict[str, object] = data["project"]
    return table


def test_plugins_depend_on_the_core_library_only() -> None:
    assert len(PLUGINS) == 14
    for folder in PLUGINS:
        deps = project(folder)["dependencies"]
        assert isinstance(deps, list)
        assert [d for d in deps if d.startswith("splifft")] == ["splifft-core>=0.1,<0.2"], folder


def test_plugin_code_never_imports_the_app_package() -> None:
    for folder in PLUGINS:
        for path in folder.glob("splifft_plugin_*/**/*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                for name in names:
                    assert name != "splifft" and not name.startswith("splifft."), (path, name)


def test_the_app_brings_the_default_model_and_offers_every_plugin_as_an_extra() -> None:
    app = project(REPO)
    assert app["name"] == "splifft"
    deps = app["dependencies"]
    assert isinstance(deps, list) and "splifft-core==0.1.0" in deps
    from splifft_core.registry import load_registry
    from splifft_core.user_config import BUILTIN_DEFAULT_MODEL

    default = load_registry().get(BUILTIN_DEFAULT_MODEL).manifest
    assert f"{default.plugin}==0.1.0" in deps
    extras = app["optional-dependencies"]
    assert isinstance(extras, dict)
    # every other first-party plugin is an extra (HPSS, weightless, comes along too)
    assert "splifft-plugin-hpss==0.1.0" in deps
    first_party = {f"{p.name}==0.1.0" for p in PLUGINS} - set(deps)
    assert set(extras["all"]) == first_party
    assert all(
        extra == [f"splifft-plugin-{name}==0.1.0"]
        for name, extra in extras.items()
        if name not in ("all", "dev", "serve", "ray")
    )
    assert all(
        d.split(">=")[0] in ("fastapi", "uvicorn", "python-multipart") for d in extras["serve"]
    )
    core = project(REPO / "distributions" / "splifft-core")
    assert core["name"] == "splifft-core" and core["version"] == app["version"]


def test_wheels_install_and_run_in_a_fresh_venv() -> None:
    """Builds every wheel, installs `splifft` in a fresh venv, runs it, adds the demucs plugin."""
    script = REPO / "scripts" / "check_wheels.py"
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "check_wheels: all checks passed" in done.stdout
