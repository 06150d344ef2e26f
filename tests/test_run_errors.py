"""`splifft run -m ID` says why a model is missing: its broken manifest, or its failed plugin."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from splifft.cli import main
from splifft_core.errors import ManifestError, PluginError
from splifft_core.plugins import PluginFailure, PluginHost
from tests.fake_plugins import identity
from tests.hub_server import identity_manifest, write_user_manifest
from tests.test_plugin_host import REPO, make_installed_plugins, run_cli

EXAMPLE = REPO / "examples" / "tones_and_clicks.flac"


def test_run_names_the_broken_user_manifest_and_its_field(
    plugin_host: Callable[..., PluginHost], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin_host(identity)
    data = identity_manifest("identity-user-typo", [])
    data["sample_rate"] = "fast"
    path = write_user_manifest(data)

    code = main(["run", str(EXAMPLE), "-m", "identity-user-typo", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert str(path) in err and "sample_rate" in err and "unknown model" not in err


def test_a_manifest_file_that_is_not_json_is_named_by_its_file_name(
    plugin_host: Callable[..., PluginHost],
) -> None:
    from splifft_core import paths
    from splifft_core.registry import load_registry

    host = plugin_host(identity)
    folder = paths.user_manifests_dir()
    folder.mkdir(parents=True)
    (folder / "identity-user-cut.json").write_text('{"identifier": "identity-user-cut", ')
    with pytest.raises(ManifestError, match=r"identity-user-cut\.json: not valid JSON"):
        load_registry(host).get("identity-user-cut")
    # a healthy model beside it is unaffected, and an unknown name is still "unknown"
    write_user_manifest(identity_manifest("identity-user-fine", []))
    assert load_registry(host).get("identity-user-fine").source == "user"
    with pytest.raises(Exception, match="unknown model 'identity-user-else'"):
        load_registry(host).get("identity-user-else")


def test_missing_architecture_names_the_failed_plugin_and_its_error(
    plugin_host: Callable[..., PluginHost],
) -> None:
    from splifft_core.api import load

    host = plugin_host()
    host.failures.append(
        PluginFailure(
            "identity", "fake-identity", "0.3.0", "import", "ImportError: no module named 'numba'"
        )
    )
    write_user_manifest(identity_manifest("identity-user-gone", []))
    with pytest.raises(PluginError) as error:
        load("identity-user-gone")
    message = str(error.value)
    assert "'identity-user-gone'" in message
    assert "fake-identity 0.3.0" in message and "ImportError: no module named 'numba'" in message
    assert "\n" not in message


def test_missing_plugin_that_never_loaded_says_what_to_install(
    plugin_host: Callable[..., PluginHost],
) -> None:
    from splifft_core.api import load

    plugin_host()
    write_user_manifest(identity_manifest("identity-user-absent", []))
    with pytest.raises(PluginError, match="not installed: `pip install fake-identity`"):
        load("identity-user-absent")


def test_run_reports_an_installed_plugin_that_fails_to_import(tmp_path: Path) -> None:
    """Through real entry points: the model's plugin (`bad_plugin`) raises at import."""
    site = tmp_path / "site"
    site.mkdir()
    make_installed_plugins(site)
    home = tmp_path / "home"
    manifests = home / "data" / "manifests"
    manifests.mkdir(parents=True)
    data = identity_manifest("identity-user-native", [])
    data["plugin"] = "bad_plugin"
    (manifests / "identity-user-native.json").write_text(json.dumps(data))

    result = run_cli(
        ["run", str(EXAMPLE), "-m", "identity-user-native", "-o", str(tmp_path / "o")],
        site,
        {"SPLIFFT_HOME": str(home), "SPLIFFT_PLUGINS": "bad_plugin"},
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "bad_plugin" in lines[0] and "failed at import" in lines[0]
    assert "ImportError: missing native library libfoo.so" in lines[0]


def test_run_names_the_manifest_file_of_invalid_params(
    plugin_host: Callable[..., PluginHost], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The manifest validates, but its params do not fit the architecture's params model."""
    plugin_host(identity)
    data = identity_manifest("identity-user-params", [])
    data["params"]["chunk_size"] = "long"
    path = write_user_manifest(data)

    assert main(["run", str(EXAMPLE), "-m", "identity-user-params", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"splifft: error: {path}: model 'identity-user-params'")
    assert "params.chunk_size" in err
