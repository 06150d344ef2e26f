"""Helpers shared by the core's tests: the repository, the docs hook, `python -m splifft`."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def docs_hook() -> ModuleType:
    """`docs/_hooks/splifft_docs.py`, the mkdocs hook, imported by path (it knows how to find
    the first-party plugins)."""
    name = "splifft_docs_hook"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, REPO / "docs" / "_hooks" / "splifft_docs.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def splifft_env(
    pythonpath: Iterable[Path] = (),
    env: Mapping[str, str] | None = None,
    *,
    drop: Iterable[str] = (),
) -> dict[str, str]:
    """The environment for a `splifft` subprocess that autoloads the plugins on `pythonpath`.

    This test's (its SPLIFFT_HOME, HF_HOME, …) without SPLIFFT_DISABLE_PLUGIN_AUTOLOAD and the
    variables in `drop`, the repository last on PYTHONPATH, `env` on top.
    """
    full = dict(os.environ)
    for name in ("SPLIFFT_DISABLE_PLUGIN_AUTOLOAD", *drop):
        full.pop(name, None)
    full["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in pythonpath), str(REPO)])
    full.update(env or {})
    return full


def run_splifft(
    args: list[str],
    pythonpath: Iterable[Path] = (),
    env: Mapping[str, str] | None = None,
    *,
    drop: Iterable[str] = (),
) -> subprocess.CompletedProcess[str]:
    """`python -m splifft ARGS` in the repository, with `splifft_env(pythonpath, env, drop)`."""
    return subprocess.run(
        [sys.executable, "-m", "splifft", *args],
        capture_output=True,
        text=True,
        env=splifft_env(pythonpath, env, drop=drop),
        cwd=REPO,
        timeout=300,
    )
