"""First-party models are listed before their plugin is installed, and load once it is."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from splifft.cli import main
from splifft_core.errors import PluginError
from splifft_core.plugins import PluginHost
from splifft_core.registry import load_registry


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
