"""The plugin host: failures are isolated and reported; strict mode and the allowlist work."""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from splifft_core.errors import PluginError
from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_core.plugins import PluginHost
from tests.fake_plugins import broken_hook, identity
from tests.helpers import REPO as REPO  # re-exported: tests/test_run_errors.py uses it
from tests.helpers import run_splifft


def test_raising_hook_is_reported_and_skipped(plugin_host: Callable[..., PluginHost]) -> None:
    host = plugin_host(broken_hook, identity)
    assert set(host.architectures()) == {"identity"}
    stages = {(f.name, f.stage) for f in host.failures}
    assert ("broken_hook", "splifft_architectures") in stages
    assert "broken on purpose" in host.failures[0].error


def test_strict_mode_raises(plugin_host: Callable[..., PluginHost]) -> None:
    host = plugin_host(broken_hook, strict=True)
    with pytest.raises(PluginError, match="broken on purpose"):
        host.architectures()


def test_duplicate_architecture_is_withheld_from_both_plugins() -> None:
    """Neither plugin wins by load order: the name is a conflict naming both, not a failure, and
    the plugins' other architectures keep working."""
    import types

    from tests.fake_plugins import msst_gain

    host = PluginHost()
    host.register(identity, "first")
    twin = types.ModuleType("twin")

    @hookimpl
    def splifft_architectures() -> list[ArchitectureSpec]:
        return [identity.IDENTITY, msst_gain.GAIN_NET]

    twin.splifft_architectures = splifft_architectures  # type: ignore[attr-defined]
    host.register(twin, "twin")
    assert host.architecture_providers() == {"gain_net": "twin"}
    assert host.failures == []
    (conflict,) = host.conflicts()
    assert (conflict.name, [p.name for p in conflict.providers]) == ("identity", ["first", "twin"])
    with pytest.raises(
        PluginError,
        match="architecture 'identity' is provided by both first and twin: uninstall one",
    ):
        host.architecture("identity")
    assert host.architecture("gain_net").name == "gain_net"


def test_unknown_architecture_lists_installed(plugin_host: Callable[..., PluginHost]) -> None:
    host = plugin_host(identity)
    with pytest.raises(
        PluginError, match=r"no installed plugin provides it \(installed: identity\)"
    ):
        host.architecture("demucs")


def make_installed_plugins(root: Path) -> None:
    """Two distributions on a path entry: one fine, one that raises on import."""
    (root / "good_plugin.py").write_text(
        textwrap.dedent(
            """
            from splifft_core.hookspecs import hookimpl
            from tests.fake_plugins.identity import IDENTITY

            @hookimpl
            def splifft_architectures():
                return [IDENTITY]
            """
        )
    )
    (root / "bad_plugin.py").write_text("raise ImportError('missing native library libfoo.so')\n")
    for dist, module in [("good_plugin", "good_plugin"), ("bad_plugin", "bad_plugin")]:
        info = root / f"{dist}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
        (info / "entry_points.txt").write_text(f"[splifft]\n{module} = {module}\n")


def run_cli(
    args: list[str], pythonpath: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m splifft ARGS` with the plugins installed on `pythonpath` autoloaded."""
    return run_splifft(args, [pythonpath], env)


def test_broken_installed_plugin_is_listed_and_run_still_works(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    make_installed_plugins(site)
    result = run_cli(["plugins", "--json"], site)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    failed = {f["name"]: f for f in listing["failed"]}
    assert failed["bad_plugin"]["distribution"] == "bad_plugin"
    assert failed["bad_plugin"]["version"] == "1.2.3"
    assert "missing native library" in failed["bad_plugin"]["error"]
    names = {p["name"] for p in listing["plugins"]}
    assert "good_plugin" in names and "bad_plugin" not in names

    # `splifft run` still works with the other plugins (here: the weightless HPSS model)
    out = tmp_path / "out"
    example = str(REPO / "examples" / "tones_and_clicks.flac")
    result = run_cli(["run", example, "-m", "hpss-fitzgerald-median", "-o", str(out), "-q"], site)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (out / "tones_and_clicks").iterdir()) == [
        "harmonic.flac",
        "percussive.flac",
    ]

    strict = run_cli(["plugins"], site, {"SPLIFFT_STRICT_PLUGINS": "1"})
    assert strict.returncode == 1
    assert "bad_plugin" in strict.stderr and "missing native library" in strict.stderr
    assert len(strict.stderr.strip().splitlines()) == 1


def test_allowlist_restricts_loading(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    make_installed_plugins(site)
    result = run_cli(["plugins", "--json"], site, {"SPLIFFT_PLUGINS": "good_plugin"})
    listing = json.loads(result.stdout)
    assert [p["name"] for p in listing["plugins"]] == ["good_plugin"]
    assert listing["failed"] == []
