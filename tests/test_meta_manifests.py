"""Meta: every built-in manifest validates and names an architecture that a first-party plugin
provides (or a declared external plugin), with params that plugin accepts.

Built-in manifests are `registry/**/*.json` and those the first-party plugins under `plugins/`
contribute through `splifft_manifests`. The plugins' hooks are called directly here, module by
module, as the host would.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from splifft_core.api import check_manifest_against_params
from splifft_core.errors import ManifestError
from splifft_core.manifest import Manifest, json_schema
from splifft_core.models import ArchitectureSpec
from splifft_core.plugins import PluginHost
from splifft_core.registry import load_registry, parse_manifests, read_manifest_file

REPO = Path(__file__).resolve().parent.parent

EXTERNAL_PLUGINS: dict[str, frozenset[str]] = {}
"""Distribution → the architectures it provides, for plugins that live outside this repository
but whose models the built-in registry lists. Declare one here before referencing it."""


def docs_hook() -> ModuleType:
    """`docs/_hooks/splifft_docs.py` (it knows how to find the first-party plugins)."""
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


@dataclass
class FirstParty:
    modules: dict[str, ModuleType] = field(default_factory=dict)
    """Entry-point name → hook module."""
    distributions: dict[str, str] = field(default_factory=dict)
    """Entry-point name → distribution."""
    specs: dict[str, ArchitectureSpec] = field(default_factory=dict)
    providers: dict[str, str] = field(default_factory=dict)
    """Architecture → distribution."""
    manifests: list[tuple[str, Manifest]] = field(default_factory=list)
    """(origin, manifest), plugin-contributed."""
    contributed_files: set[Path] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


@functools.cache
def first_party() -> FirstParty:
    hook = docs_hook()
    found = FirstParty()
    for plugin in hook.first_party_plugins(REPO):
        if not plugin.entry_points:
            found.problems.append(f"{plugin.distribution}: no entry point in the group 'splifft'")
        for name, module_name in plugin.entry_points.items():
            try:
                module = hook.import_plugin_module(plugin, module_name)
            except Exception as exc:
                found.problems.append(f"{plugin.distribution}: cannot import {module_name}: {exc}")
                continue
            found.modules[name] = module
            found.distributions[name] = plugin.distribution
            _collect(found, plugin.distribution, module)
    return found


def _collect(found: FirstParty, distribution: str, module: ModuleType) -> None:
    if hasattr(module, "splifft_architectures"):
        for spec in module.splifft_architectures():
            if not isinstance(spec, ArchitectureSpec):
                found.problems.append(f"{distribution}: returned {type(spec).__name__}")
                continue
            if spec.name in found.providers:
                found.problems.append(
                    f"{distribution}: architecture {spec.name!r} is already provided by "
                    f"{found.providers[spec.name]}"
                )
            found.specs[spec.name] = spec
            found.providers[spec.name] = distribution
    if hasattr(module, "splifft_manifests"):
        items: list[Any] = list(module.splifft_manifests())
        for item in items:
            try:
                if isinstance(item, dict):
                    manifests = parse_manifests(item, f"{distribution} (dict)")
                    origin = f"{distribution}:{item.get('identifier')}"
                else:
                    path = Path(item)
                    found.contributed_files.add(path.resolve())
                    manifests = read_manifest_file(path)
                    origin = f"{distribution}:{path.name}"
            except ManifestError as exc:
                found.problems.append(str(exc))
                continue
            found.manifests.extend((origin, m) for m in manifests)


def builtin_files() -> list[Path]:
    return sorted(
        p for p in (REPO / "registry").rglob("*.json") if not p.name.endswith(".schema.json")
    )


def all_manifests() -> list[tuple[str, Manifest]]:
    out: list[tuple[str, Manifest]] = []
    for path in builtin_files():
        # an invalid file is reported by test_builtin_registry_files_validate
        with contextlib.suppress(ManifestError):
            out.extend((f"registry/{path.name}", m) for m in read_manifest_file(path))
    return out + first_party().manifests


MANIFESTS = all_manifests()


def test_first_party_plugins_load_cleanly() -> None:
    found = first_party()
    assert found.problems == []
    assert "hpss" in found.specs  # the default model's plugin
    assert found.manifests or builtin_files()


@pytest.mark.parametrize("path", builtin_files(), ids=lambda p: p.name)
def test_builtin_registry_files_validate(path: Path) -> None:
    assert read_manifest_file(path)


@pytest.mark.parametrize(
    ("origin", "manifest"), MANIFESTS, ids=[m.identifier for _, m in MANIFESTS]
)
def test_manifest_names_a_provided_architecture(origin: str, manifest: Manifest) -> None:
    found = first_party()
    arch = manifest.architecture
    if arch not in found.specs:
        external = EXTERNAL_PLUGINS.get(manifest.plugin or "", frozenset())
        assert arch in external, (
            f"{origin}: architecture {arch!r} is provided by no first-party plugin "
            f"({', '.join(sorted(found.specs))}) nor a declared external plugin"
        )
        return
    provider = found.providers[arch]
    assert manifest.plugin in (None, provider), (
        f"{origin}: says plugin {manifest.plugin!r}, but {arch!r} comes from {provider}"
    )
    try:
        params = found.specs[arch].parse_params(manifest.params)
    except ValidationError as exc:
        pytest.fail(f"{origin}: params rejected by {provider}: {exc}")
    check_manifest_against_params(manifest, params)


def test_every_shipped_manifest_file_is_contributed() -> None:
    """A JSON file inside a plugin's package that its hook does not return is never seen."""
    found = first_party()
    shipped = set()
    for plugin in docs_hook().first_party_plugins(REPO):
        for module_name in plugin.entry_points.values():
            package = plugin.path / module_name.split(".")[0]
            shipped |= {p.resolve() for p in package.rglob("*.json")}
    assert sorted(shipped - found.contributed_files) == []


def test_registry_of_all_first_party_plugins_is_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Identifiers are unique across the built-in registry and every plugin."""
    monkeypatch.setenv("SPLIFFT_HOME", str(tmp_path))
    found = first_party()
    host = PluginHost(strict=True)
    for name, module in found.modules.items():
        host.register(module, name, distribution=found.distributions[name])
    registry = load_registry(host)
    assert registry.warnings() == []
    assert {e.manifest.identifier for e in registry} == {m.identifier for _, m in MANIFESTS}
    assert len(MANIFESTS) == len({m.identifier for _, m in MANIFESTS})


def test_manifest_schema_is_current() -> None:
    shipped = json.loads((REPO / "registry" / "manifest.schema.json").read_text())
    assert shipped == json_schema(), (
        "registry/manifest.schema.json is stale: "
        "python -m splifft_core.manifest > registry/manifest.schema.json"
    )
