"""Manifest sources: user-local > plugin > built-in; conflicts; missing plugins; `ls` and `info`."""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import splifft
from splifft.cli import main
from splifft_core.errors import ManifestError, PluginError
from splifft_core.hookspecs import hookimpl
from splifft_core.plugins import PluginHost
from splifft_core.registry import load_registry
from tests.fake_plugins import identity
from tests.hub_server import identity_manifest, write_user_manifest

HPSS = "hpss-fitzgerald-median"


def plugin_with_manifests(name: str, *manifests: dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType(name)

    @hookimpl
    def splifft_manifests() -> list[dict[str, Any]]:
        return list(manifests)

    module.splifft_manifests = splifft_manifests  # type: ignore[attr-defined]
    return module


def hpss_manifest(**changes: Any) -> dict[str, Any]:
    builtin = Path(__file__).resolve().parent.parent / "registry" / f"{HPSS}.json"
    data: dict[str, Any] = json.loads(builtin.read_text())
    data.update(changes)
    return data


def test_builtin_plugin_and_user_sources(plugin_host: Callable[..., PluginHost]) -> None:
    host = plugin_host(identity)
    write_user_manifest(identity_manifest("identity-user-mine", []))
    registry = load_registry(host)
    sources = {e.manifest.identifier: e.source for e in registry}
    assert sources[HPSS] == "builtin"
    assert sources["identity-test-gain"] == "plugin"
    assert sources["identity-user-mine"] == "user"
    assert registry.get("identity-test-gain").origin == "plugin identity"


def test_user_defining_a_plugin_model_is_a_conflict_naming_both(
    plugin_host: Callable[..., PluginHost],
) -> None:
    host = plugin_host(identity)
    path = write_user_manifest(identity_manifest("identity-test-gain", []))
    registry = load_registry(host)
    with pytest.raises(ManifestError) as error:
        registry.get("identity-test-gain")
    message = str(error.value)
    assert str(path) in message and "plugin identity" in message and '"overrides": true' in message
    assert registry.warnings() == [message]


def test_user_override_wins(plugin_host: Callable[..., PluginHost]) -> None:
    host = plugin_host(identity)
    write_user_manifest(
        {**identity_manifest("identity-test-gain", []), "overrides": True, "description": "mine"}
    )
    registry = load_registry(host)
    entry = registry.get("identity-test-gain")
    assert entry.source == "user" and entry.manifest.description == "mine"
    assert registry.warnings() == []


def test_user_overrides_builtin(plugin_host: Callable[..., PluginHost]) -> None:
    host = plugin_host()
    write_user_manifest(hpss_manifest(overrides=True, description="tuned"))
    assert load_registry(host).get(HPSS).manifest.description == "tuned"


def test_plugin_redefining_a_builtin_or_another_plugin_conflicts(
    plugin_host: Callable[..., PluginHost],
) -> None:
    clash = plugin_with_manifests("clash", hpss_manifest(description="another"))
    twin = plugin_with_manifests(
        "twin", {**identity_manifest("identity-test-gain", []), "description": "another"}
    )
    host = plugin_host(identity, clash, twin)
    registry = load_registry(host)
    with pytest.raises(ManifestError, match=r"plugin clash and by builtin manifest"):
        registry.get(HPSS)
    with pytest.raises(ManifestError, match=r"plugin identity .* plugin twin"):
        registry.get("identity-test-gain")


def test_every_source_defines_a_model_once(plugin_host: Callable[..., PluginHost]) -> None:
    """The catalogue holds each manifest once: a plugin re-shipping a built-in one conflicts."""
    host = plugin_host(plugin_with_manifests("same", hpss_manifest()))
    with pytest.raises(ManifestError, match="defined twice: by plugin manifest plugin same"):
        load_registry(host).get(HPSS)


def test_a_plugin_cannot_override(plugin_host: Callable[..., PluginHost]) -> None:
    host = plugin_host(plugin_with_manifests("sneaky", hpss_manifest(overrides=True)))
    with pytest.raises(ManifestError, match="defined twice"):
        load_registry(host).get(HPSS)


def test_invalid_manifests_are_skipped_and_reported(
    plugin_host: Callable[..., PluginHost], capsys: pytest.CaptureFixture[str]
) -> None:
    host = plugin_host(identity)
    folder = write_user_manifest(identity_manifest("identity-user-ok", [])).parent
    (folder / "broken.json").write_text("{not json")
    write_user_manifest(
        identity_manifest(
            "identity-user-bad", [{"kind": "url", "url": "https://x.org/a", "filename": "../a"}]
        )
    )
    local = plugin_with_manifests(
        "localish",
        identity_manifest("identity-plugin-local", [{"kind": "local", "path": "/tmp/x.ckpt"}]),
    )
    host.register(local, "localish")
    registry = load_registry(host)
    assert "identity-user-ok" in registry.entries
    assert not {"identity-user-bad", "identity-plugin-local"} & set(registry.entries)
    problems = "\n".join(registry.warnings())
    assert "broken.json: not valid JSON" in problems
    assert "identity-user-bad" in problems and "resources.0.url.filename" in problems
    assert "local resources are only allowed in user-local manifests" in problems

    assert main(["ls", "--json"]) == 0
    captured = capsys.readouterr()
    assert "broken.json" in captured.err and "identity-user-bad" in captured.err
    assert all(line.startswith("splifft: warning: ") for line in captured.err.splitlines())


def test_missing_plugin_names_the_distribution(plugin_host: Callable[..., PluginHost]) -> None:
    plugin_host()  # no plugins: the identity manifest below has nobody to run it
    write_user_manifest(identity_manifest("identity-user-orphan", []))
    with pytest.raises(PluginError, match="pip install fake-identity"):
        splifft.load("identity-user-orphan")

    orphan = identity_manifest("identity-user-anon", [])
    del orphan["plugin"]
    write_user_manifest(orphan)
    with pytest.raises(PluginError, match="'identity': no installed plugin provides it"):
        splifft.load("identity-user-anon")


def test_run_with_missing_plugin_is_one_line(
    plugin_host: Callable[..., PluginHost], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin_host()
    write_user_manifest(identity_manifest("identity-user-orphan", []))
    song = Path(__file__).resolve().parent.parent / "examples" / "tones_and_clicks.flac"
    code = main(["run", str(song), "-m", "identity-user-orphan", "-o", str(tmp_path), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert "pip install fake-identity" in err


def test_ls_filters_and_info(
    plugin_host: Callable[..., PluginHost],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    plugin_host(identity)
    orphan = identity_manifest("identity-user-orphan", [])
    orphan["architecture"] = "nothing"
    orphan["identifier"] = "nothing-user-orphan"
    orphan["plugin"] = "splifft-plugin-nothing"
    write_user_manifest(orphan)

    def listed(*args: str) -> dict[str, dict[str, Any]]:
        assert main(["ls", "--json", *args]) == 0
        return {row["identifier"]: row for row in json.loads(capsys.readouterr().out)}

    default = listed()
    assert "identity-test-gain" in default
    assert "nothing-user-orphan" not in default  # plugin missing, nothing cached
    everything = listed("--all")
    assert everything["nothing-user-orphan"]["plugin_installed"] is False
    assert everything["nothing-user-orphan"]["plugin"] == "splifft-plugin-nothing"
    with_instrum = listed("--all", "--stem", "instrum")
    assert "identity-test-gain" in with_instrum and "nothing-user-orphan" not in with_instrum
    assert all("instrum" in row["stems"] for row in with_instrum.values())
    assert set(listed("--all", "--arch", "nothing")) == {"nothing-user-orphan"}
    assert listed("--all", "--stem", "kazoo") == {}

    assert main(["ls", "--all"]) == 0
    table = capsys.readouterr().out
    assert "identity-test-gain" in table and "nothing (missing)" in table

    assert main(["info", "identity-test-gain", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["plugin"] == "fake-identity" and info["plugin_installed"] is True
    assert info["files"] == [] and info["cached"] is True
    assert info["inference"]["batch_size"] == 2
    assert main(["info", "nothing-user-orphan"]) == 0
    text = capsys.readouterr().out
    assert "NOT installed: pip install splifft-plugin-nothing" in text
    assert "files:        none (no weights)" in text

    assert main(["info", "identity-nope"]) == 1
    assert "unknown model 'identity-nope'" in capsys.readouterr().err
