"""The first-party catalogue: one manifest file a model in `registry/`, none in the plugins; its
models are listed before their plugin is installed, and load once it is."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from splifft.cli import main
from splifft_core.errors import PluginError
from splifft_core.plugins import PluginHost
from splifft_core.registry import builtin_manifest_files, load_registry, read_manifest_file
from tests.helpers import REPO, docs_hook


def test_absent_plugin_models_are_listed_as_needing_it(
    plugin_host: Callable[..., PluginHost], capsys: pytest.CaptureFixture[str]
) -> None:
    plugin_host()  # nothing installed
    assert main(["ls", "--all", "--json"]) == 0
    rows = {row["identifier"]: row for row in json.loads(capsys.readouterr().out)}
    for ident, dist in [
        ("htdemucs-rouard-base", "splifft-plugin-demucs"),
        ("htdemucs-rouard-ft", "splifft-plugin-demucs"),
        ("bs_roformer-lu-viperx", "splifft-plugin-roformer"),
        ("mdx23c-kim-zfturbo_vocals", "splifft-plugin-mdx23c"),
        ("scnet-tong-zfturbo_xl", "splifft-plugin-scnet"),
    ]:
        assert rows[ident]["plugin"] == dist
        assert rows[ident]["plugin_installed"] is False
    import splifft

    with pytest.raises(PluginError, match="pip install splifft-plugin-demucs"):
        splifft.load("htdemucs-rouard-base")


def test_installed_plugin_models_resolve_without_conflicts(
    plugin_host: Callable[..., PluginHost], capsys: pytest.CaptureFixture[str]
) -> None:
    demucs = pytest.importorskip("splifft_plugin_demucs")
    host = plugin_host(demucs)
    registry = load_registry(host)
    assert registry.conflicts == {}
    entry = registry.get("htdemucs-rouard-base")
    spec = host.architecture(entry.manifest.architecture)
    params = spec.parse_params(entry.manifest.params)
    assert list(params.output_stem_names) == entry.manifest.stems  # type: ignore[attr-defined]
    assert main(["ls", "--all", "--json", "--arch", "htdemucs"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(row["plugin_installed"] for row in rows)


def test_registry_holds_the_whole_first_party_catalogue() -> None:
    registry = REPO / "registry"
    models = builtin_manifest_files()
    assert len(models) >= 120
    assert {p.parent for p in models} == {registry}
    assert sorted(p.name for p in registry.iterdir()) == sorted(
        [*(p.name for p in models), "manifest.schema.json"]
    )
    distributions = {p.distribution for p in docs_hook().first_party_plugins(REPO)}
    used = set()
    for path in models:
        (manifest,) = read_manifest_file(path)
        assert manifest.identifier == path.stem
        if manifest.ensemble is not None:  # a preset: its members name their plugins
            assert manifest.plugin is None, path.name
            continue
        assert manifest.plugin in distributions, f"{path.name}: plugin {manifest.plugin!r}"
        used.add(manifest.plugin)
    assert used == distributions  # every first-party plugin has its models here
    # and no plugin ships a catalogue of its own (data tables, e.g. UVR's, are not manifests)
    shipped = [
        p.relative_to(REPO).as_posix()
        for p in (REPO / "plugins").rglob("*.json")
        if isinstance(data := json.loads(p.read_text()), dict) and "architecture" in data
    ]
    assert shipped == []
