"""The model commands as a user runs them: subprocesses with HF_ENDPOINT / HF_HUB_OFFLINE set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import run_splifft, splifft_env
from tests.hub_server import (
    gain_weights,
    identity_manifest,
    install_fake_identity,
    running_hub,
    sha256,
    write_user_manifest,
)


def splifft(
    args: list[str], site: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m splifft ARGS` with the fake identity plugin installed (and only that one)."""
    settings = {"SPLIFFT_PLUGINS": "identity", "HF_HUB_DISABLE_PROGRESS_BARS": "1", **(env or {})}
    return run_splifft(args, [site], settings, drop=["HF_HUB_OFFLINE"])


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    install_fake_identity(folder)
    return folder


def test_pull_then_offline_run(site: Path, tmp_path: Path) -> None:
    weights = gain_weights((0.5, 2.0))
    song = tmp_path / "song.wav"
    rng = np.random.default_rng(0)
    mix = (0.1 * rng.standard_normal((20000, 2))).astype(np.float32)
    sf.write(str(song), mix, 44100, subtype="FLOAT")
    with running_hub() as hub:
        hub.commit("org/gain", {"gain.pt": weights})
        write_user_manifest(
            identity_manifest(
                "identity-test-hub",
                [
                    {
                        "kind": "hf",
                        "repo_id": "org/gain",
                        "filename": "gain.pt",
                        "sha256": sha256(weights),
                    }
                ],
            )
        )
        online = {"HF_ENDPOINT": hub.endpoint}
        offline = {**online, "HF_HUB_OFFLINE": "1"}

        # offline with an empty cache: one line telling the user what to do
        miss = splifft(
            ["run", str(song), "-m", "identity-test-hub", "-o", "out", "-q"], site, offline
        )
        assert miss.returncode == 1
        assert miss.stderr.strip().count("\n") == 0, miss.stderr
        assert "splifft pull identity-test-hub" in miss.stderr

        pulled = splifft(["pull", "identity-test-hub"], site, online)
        assert pulled.returncode == 0, pulled.stderr
        assert pulled.stdout.startswith("identity-test-hub: ")
        assert Path(pulled.stdout.split(": ", 1)[1].strip()).read_bytes() == weights

        served = len(hub.requests)
        out = tmp_path / "out"
        ran = splifft(
            ["run", str(song), "-m", "identity-test-hub", "-o", str(out), "--format", "wav", "-q"],
            site,
            offline,
        )
        assert ran.returncode == 0, ran.stderr
        assert len(hub.requests) == served  # offline: the Hub was not asked
    vocals, _ = sf.read(str(out / "song" / "vocals.wav"), dtype="float32")
    drums, _ = sf.read(str(out / "song" / "drums.wav"), dtype="float32")
    # the gains come from the downloaded weights, not from the params (1.0, 1.0)
    np.testing.assert_allclose(vocals, 0.5 * mix, atol=1e-4)
    np.testing.assert_allclose(drums, 2.0 * mix, atol=1e-4)


LIGHT = """
import sys, json, contextlib, io
from splifft.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    assert main(['ls', '--all', '--json']) == 0
rows = json.loads(out.getvalue())
with contextlib.redirect_stdout(io.StringIO()):
    assert main(['ls']) == 0
    assert main(['info', 'identity-test-gain']) == 0
    assert main(['info', 'identity-test-gain', '--json']) == 0
assert "torch" not in sys.modules, "torch was imported"
print(json.dumps(rows))
"""


def test_ls_and_info_do_not_import_torch(site: Path) -> None:
    env = splifft_env([site], {"SPLIFFT_PLUGINS": "identity"})
    result = subprocess.run(
        [sys.executable, "-c", LIGHT], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    rows = {row["identifier"]: row for row in json.loads(result.stdout)}
    row = rows["identity-test-gain"]
    for key in ("identifier", "architecture", "stems", "cached", "plugin_installed"):
        assert key in row
    assert row["stems"] == ["vocals", "drums", "instrum"]
    assert row["cached"] is True and row["plugin_installed"] is True
    assert row["plugin"] == "fake-identity"
    # a built-in manifest whose plugin is not loaded here
    assert rows["hpss-fitzgerald-median"]["plugin_installed"] is False


def test_info_of_a_registry_model_shows_source_digest_license_plugin() -> None:
    """The Done-when example, with the installed first-party plugins (skipped without roformer)."""
    pytest.importorskip("splifft_plugin_roformer")
    result = run_splifft(["info", "bs_roformer-lu-viperx", "--json"])
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    (weights,) = info["files"]
    assert weights["source"].startswith("hf://") or weights["source"].startswith("http")
    assert "sha256" in weights and "license" in info
    assert info["stems"][0] == "vocals"
    assert info["plugin"] == "splifft-plugin-roformer" and info["plugin_installed"] is True
    assert weights["cached"] is False
