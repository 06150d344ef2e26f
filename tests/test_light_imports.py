"""`import splifft_core`, `splifft --help` and `splifft plugins` never import torch (nor rich,
for the first two)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHECK = """
import sys, contextlib, io
{body}
assert "torch" not in sys.modules, "torch was imported"
print("ok")
"""


def run(body: str) -> str:
    env = dict(os.environ)
    env.pop("SPLIFFT_DISABLE_PLUGIN_AUTOLOAD", None)  # installed plugins load, as for a user
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-c", CHECK.format(body=body)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_core_is_light() -> None:
    run(
        "import splifft_core, splifft, splifft_core.types, splifft_core.models, splifft_core.plugins"
        "\nimport splifft_core.settings, splifft_core.atomic, splifft_core.hub"
        "\nassert 'rich' not in sys.modules, 'the core draws nothing: rich was imported'"
    )


def test_help_is_light() -> None:
    run(
        "from splifft.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
        "assert 'rich' not in sys.modules, 'rich was imported'\n"
        "assert 'fastapi' not in sys.modules and 'uvicorn' not in sys.modules, 'the web app loaded'\n"
        "assert 'ray' not in sys.modules and 'fsspec' not in sys.modules, 'batch loaded Ray'"
    )


def test_the_web_app_starts_without_torch() -> None:
    """`splifft serve` answers the page and the catalogue before any model runs."""
    run(
        "import tempfile, pathlib\n"
        "from fastapi.testclient import TestClient\n"
        "from splifft.server.app import ServerConfig, create_app\n"
        "app = create_app(ServerConfig(jobs_dir=pathlib.Path(tempfile.mkdtemp())))\n"
        "with TestClient(app, base_url='http://127.0.0.1') as client:\n"
        "    assert client.get('/').status_code == 200\n"
        "    assert client.get('/api/models').status_code == 200\n"
        "    assert client.get('/api/jobs').json() == []"
    )


def test_plugins_and_ls_are_light() -> None:
    run(
        "from splifft.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['plugins']) == 0\n"
        "    assert main(['plugins', '--json']) == 0"
    )
