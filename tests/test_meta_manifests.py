"""Meta: every built-in manifest validates and names an architecture that a first-party plugin
provides (or a declared external plugin), with params that plugin accepts.

Built-in manifests are `registry/*.json`, the whole first-party catalogue: the first-party plugins
under `plugins/` contribute architectures only, no `splifft_manifests` (and no manifest files:
`test_first_party_catalogue.py`).
"""

from __future__ import annotations

import contextlib
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import ValidationError

from splifft_core.api import check_manifest_against_params
from splifft_core.errors import ManifestError
from splifft_core.manifest import Manifest, json_schema
from splifft_core.models import ArchitectureSpec
from splifft_core.plugins import PluginHost
from splifft_core.registry import builtin_manifest_files, load_registry, read_manifest_file
from tests.helpers import REPO, docs_hook

EXTERNAL_PLUGINS: dict[str, frozenset[str]] = {}
"""Distribution → the architectures it provides, for plugins that live outside this repository
but whose models the built-in registry lists. Declare one here before referencing it."""


@dataclass
class FirstParty:
    modules: dict[str, ModuleType] = field(default_factory=dict)
    """Entry-point name → hook module."""
    distributions: dict[str, str] = field(default_factory=dict)
    """Entry-point name → distribution."""
    specs: dict[str, ArchitectureSpec] = field(default_factory=dict)
    providers: dict[str, str] = field(default_factory=dict)
    """Architecture → distribution."""
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
    if hasattr(module, "splifft_manifests"):
        found.problems.append(
            f"{distribution}: implements splifft_manifests; first-party models belong in registry/"
        )
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


def all_manifests() -> list[tuple[str, Manifest]]:
    out: list[tuple[str, Manifest]] = []
    for path in builtin_manifest_files():
        # an invalid file is reported by test_builtin_registry_files_validate
        with contextlib.suppress(ManifestError):
            out.extend((f"registry/{path.name}", m) for m in read_manifest_file(path))
    return out


MANIFESTS = all_manifests()


def test_first_party_plugins_load_cleanly() -> None:
    found = first_party()
    assert found.problems == []
    assert "hpss" in found.specs  # the default model's plugin


@pytest.mark.parametrize("path", builtin_manifest_files(), ids=lambda p: p.name)
def test_builtin_registry_files_validate(path: Path) -> None:
    (manifest,) = read_manifest_file(path)  # one model a file, named by its identifier
    assert manifest.identifier == path.stem


@pytest.mark.parametrize(
    ("origin", "manifest"), MANIFESTS, ids=[m.identifier for _, m in MANIFESTS]
)
def test_manifest_names_a_provided_architecture(origin: str, manifest: Manifest) -> None:
    found = first_party()
    arch = manifest.architecture
    if manifest.ensemble is not None:  # a preset: tests/test_ensemble_presets.py checks members
        return
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
