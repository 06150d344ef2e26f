"""The plugin host: loads entry-point plugins, isolates their failures, and answers typed queries.

Environment:

- `SPLIFFT_PLUGINS=a,b`: allowlist of plugins to load (entry-point or distribution names).
- `SPLIFFT_STRICT_PLUGINS=1`: a plugin that fails to load or register is an error, not a warning.
- `SPLIFFT_DISABLE_PLUGIN_AUTOLOAD=1`: load no entry points (tests register plugins by hand).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from splifft_core import hookspecs
from splifft_core.errors import PluginError
from splifft_core.models import ArchitectureSpec

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin."""

    name: str
    distribution: str | None
    version: str | None
    module: str


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be imported, registered, or whose hook raised."""

    name: str
    distribution: str | None
    version: str | None
    stage: str
    error: str

    def describe(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else self.name
        return f"plugin {self.name!r} ({dist}) failed at {self.stage}: {self.error}"


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text}"


@dataclass
class PluginHost:
    """Typed facade over the pluggy manager; every hook call is isolated per plugin."""

    strict: bool = False
    pm: pluggy.PluginManager = field(init=False)
    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    _architectures: dict[str, tuple[str, ArchitectureSpec]] | None = field(default=None)
    _manifests: list[tuple[str, dict[str, Any] | Path]] | None = field(default=None)

    def __post_init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)

    # -- loading -----------------------------------------------------------------------------

    def _fail(self, failure: PluginFailure) -> None:
        self.failures.append(failure)
        if self.strict:
            raise PluginError(failure.describe() + " (SPLIFFT_STRICT_PLUGINS is set)")

    def load_entry_points(self, allowlist: set[str] | None = None) -> None:
        """Import and register every plugin of the `splifft` entry-point group."""
        seen: set[str] = set()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if allowlist is not None and ep.name not in allowlist and dist not in allowlist:
                continue
            if ep.name in seen:
                continue  # the same distribution visible twice on sys.path
            seen.add(ep.name)
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not break the host
                self._fail(PluginFailure(ep.name, dist, version, "import", _one_line(exc)))
                continue
            self.register(module, ep.name, distribution=dist, version=version)

    def register(
        self,
        module: ModuleType | object,
        name: str,
        *,
        distribution: str | None = None,
        version: str | None = None,
    ) -> None:
        """Register a plugin object (a module, usually) under `name`."""
        try:
            self.pm.register(module, name=name)
        except Exception as exc:
            self._fail(PluginFailure(name, distribution, version, "register", _one_line(exc)))
            return
        module_name = getattr(module, "__name__", type(module).__name__)
        self.plugins.append(PluginInfo(name, distribution, version, module_name))
        self._architectures = None
        self._manifests = None

    def _plugin(self, name: str) -> PluginInfo:
        for info in self.plugins:
            if info.name == name:
                return info
        return PluginInfo(name, None, None, name)

    def _call_each(self, hook_name: str) -> list[tuple[str, Any]]:
        """Call one hook on every plugin separately; a raising plugin is recorded and skipped."""
        caller = getattr(self.pm.hook, hook_name)
        results: list[tuple[str, Any]] = []
        for impl in caller.get_hookimpls():  # registration order
            try:
                value = impl.function()
            except Exception as exc:
                info = self._plugin(impl.plugin_name)
                self._fail(
                    PluginFailure(
                        info.name, info.distribution, info.version, hook_name, _one_line(exc)
                    )
                )
                self._drop(impl.plugin_name)
                continue
            results.append((impl.plugin_name, value))
        return results

    def _drop(self, plugin_name: str) -> None:
        self.plugins = [p for p in self.plugins if p.name != plugin_name]

    # -- queries -----------------------------------------------------------------------------

    def architectures(self) -> dict[str, ArchitectureSpec]:
        """Every registered architecture by name."""
        return {name: spec for name, (_, spec) in self._load_architectures().items()}

    def architecture_providers(self) -> dict[str, str]:
        """Architecture name → the plugin name that provides it."""
        return {name: plugin for name, (plugin, _) in self._load_architectures().items()}

    def _load_architectures(self) -> dict[str, tuple[str, ArchitectureSpec]]:
        if self._architectures is not None:
            return self._architectures
        found: dict[str, tuple[str, ArchitectureSpec]] = {}
        for plugin_name, specs in self._call_each("splifft_architectures"):
            info = self._plugin(plugin_name)
            try:
                items = list(specs or [])
                bad = [s for s in items if not isinstance(s, ArchitectureSpec)]
                if bad:
                    raise TypeError(f"expected ArchitectureSpec, got {type(bad[0]).__name__}")
                clash = [s.name for s in items if s.name in found]
                if clash:
                    raise ValueError(
                        f"architecture {clash[0]!r} is already provided by plugin "
                        f"{found[clash[0]][0]!r}"
                    )
            except Exception as exc:
                self._fail(
                    PluginFailure(
                        info.name,
                        info.distribution,
                        info.version,
                        "splifft_architectures",
                        _one_line(exc),
                    )
                )
                continue
            for spec in items:
                found[spec.name] = (plugin_name, spec)
        self._architectures = found
        return found

    def architecture(self, name: str) -> ArchitectureSpec:
        """The spec for `name`, or a `PluginError` listing what is installed."""
        specs = self.architectures()
        if name not in specs:
            known = ", ".join(sorted(specs)) or "none"
            raise PluginError(
                f"architecture {name!r}: no installed plugin provides it (installed: {known})"
            )
        return specs[name]

    def manifests(self) -> list[tuple[str, dict[str, Any] | Path]]:
        """Manifests contributed by plugins, as (plugin name, dict or JSON path)."""
        if self._manifests is None:
            collected: list[tuple[str, dict[str, Any] | Path]] = []
            for plugin_name, items in self._call_each("splifft_manifests"):
                for item in list(items or []):
                    if isinstance(item, dict | Path):
                        collected.append((plugin_name, item))
                    elif isinstance(item, str):
                        collected.append((plugin_name, Path(item)))
            self._manifests = collected
        return self._manifests

    def plugin_architectures(self) -> dict[str, list[str]]:
        """Plugin name → names of the architectures it provides."""
        out: dict[str, list[str]] = {p.name: [] for p in self.plugins}
        for arch, plugin in sorted(self.architecture_providers().items()):
            out.setdefault(plugin, []).append(arch)
        return out


_host: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, loading entry points on first use."""
    global _host
    if _host is None:
        host = PluginHost(strict=_truthy("SPLIFFT_STRICT_PLUGINS"))
        if not _truthy("SPLIFFT_DISABLE_PLUGIN_AUTOLOAD"):
            raw = os.environ.get("SPLIFFT_PLUGINS", "").strip()
            allow = {p.strip() for p in raw.split(",") if p.strip()} if raw else None
            host.load_entry_points(allow)
        _host = host
    return _host


def set_host(host: PluginHost | None) -> None:
    """Replace the process-wide host (tests); `None` reloads on next use."""
    global _host
    _host = host
