"""The plugin host: loads entry-point plugins, isolates their failures, and answers typed queries.

Environment (read through `splifft_core.settings`):

- `SPLIFFT_PLUGINS=a,b`: allowlist of plugins to load (entry-point or distribution names).
- `SPLIFFT_STRICT_PLUGINS=1`: a plugin that fails to load or register is an error, not a warning.
- `SPLIFFT_DISABLE_PLUGIN_AUTOLOAD=1`: load no entry points (tests register plugins by hand).

Isolation: whatever a plugin raises while it is imported, registered or asked a hook
(`SystemExit` from a stray `sys.exit()` included; only `KeyboardInterrupt` passes) is recorded
as a [PluginFailure][splifft_core.plugins.PluginFailure] of that plugin, and the others load.

Conflicts: an architecture name that two plugins provide is withheld from both (an
[ArchitectureConflict][splifft_core.plugins.ArchitectureConflict]): neither wins by load
order, every use of the name says which distributions provide it, and their other
architectures keep working. `SPLIFFT_STRICT_PLUGINS=1` makes a conflict an error too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from splifft_core import hookspecs
from splifft_core.errors import PluginError
from splifft_core.models import ArchitectureSpec
from splifft_core.settings import settings

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


def _label(info: PluginInfo) -> str:
    """`distribution version` (the plugin's name when it has no distribution)."""
    name = info.distribution or info.name
    return f"{name} {info.version}" if info.version else name


@dataclass(frozen=True)
class ArchitectureConflict:
    """An architecture name provided by more than one plugin: withheld from all of them."""

    name: str
    providers: tuple[PluginInfo, ...]

    def describe(self, expected: str | None = None) -> str:
        """One line naming every providing distribution (`expected`, a manifest's plugin, first)."""
        providers = sorted(
            self.providers,
            key=lambda p: (
                expected is None
                or _normalize(expected)
                not in {_normalize(p.name), _normalize(p.distribution or "")}
            ),
        )
        labels = [_label(p) for p in providers]
        if len(labels) == 2:
            return (
                f"architecture {self.name!r} is provided by both {labels[0]} and {labels[1]}: "
                "uninstall one"
            )
        return (
            f"architecture {self.name!r} is provided by {', '.join(labels[:-1])} and "
            f"{labels[-1]}: uninstall all but one"
        )


def _normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (`Splifft_Plugin.X` == `splifft-plugin-x`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


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
    _conflicts: dict[str, ArchitectureConflict] = field(default_factory=dict)
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
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a broken plugin (even a `sys.exit()`) must not
                # break the host
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
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            self._fail(PluginFailure(name, distribution, version, "register", _one_line(exc)))
            return
        module_name = getattr(module, "__name__", type(module).__name__)
        self.plugins.append(PluginInfo(name, distribution, version, module_name))
        self._architectures = None
        self._conflicts = {}
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
                if isinstance(value, Iterator):
                    value = list(value)  # a generator runs the plugin's code now, isolated
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self._record_hook_failure(impl.plugin_name, hook_name, exc)
                continue
            results.append((impl.plugin_name, value))
        return results

    def _record_hook_failure(self, plugin_name: str, hook_name: str, exc: BaseException) -> None:
        info = self._plugin(plugin_name)
        self._drop(plugin_name)
        self._fail(
            PluginFailure(info.name, info.distribution, info.version, hook_name, _one_line(exc))
        )

    def _drop(self, plugin_name: str) -> None:
        self.plugins = [p for p in self.plugins if p.name != plugin_name]

    # -- queries -----------------------------------------------------------------------------

    def architectures(self) -> dict[str, ArchitectureSpec]:
        """Every registered architecture by name (names in conflict left out)."""
        return {name: spec for name, (_, spec) in self._load_architectures().items()}

    def architecture_providers(self) -> dict[str, str]:
        """Architecture name → the plugin name that provides it (names in conflict left out)."""
        return {name: plugin for name, (plugin, _) in self._load_architectures().items()}

    def conflicts(self) -> list[ArchitectureConflict]:
        """Architecture names provided by several plugins (withheld from all of them)."""
        self._load_architectures()
        return [self._conflicts[name] for name in sorted(self._conflicts)]

    def _load_architectures(self) -> dict[str, tuple[str, ArchitectureSpec]]:
        if self._architectures is not None:
            return self._architectures
        found: dict[str, tuple[str, ArchitectureSpec]] = {}
        providers: dict[str, list[str]] = {}
        for plugin_name, specs in self._call_each("splifft_architectures"):
            info = self._plugin(plugin_name)
            try:
                items = list(specs or [])
                bad = [s for s in items if not isinstance(s, ArchitectureSpec)]
                if bad:
                    raise TypeError(f"expected ArchitectureSpec, got {type(bad[0]).__name__}")
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
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
                found.setdefault(spec.name, (plugin_name, spec))
                names = providers.setdefault(spec.name, [])
                if plugin_name not in names:
                    names.append(plugin_name)
        conflicts = {
            name: ArchitectureConflict(name, tuple(self._plugin(p) for p in plugins))
            for name, plugins in providers.items()
            if len(plugins) > 1
        }
        if conflicts and self.strict:
            first = conflicts[min(conflicts)]
            raise PluginError(first.describe() + " (SPLIFFT_STRICT_PLUGINS is set)")
        for name in conflicts:
            del found[name]
        self._conflicts = conflicts
        self._architectures = found
        return found

    def architecture(self, name: str, distribution: str | None = None) -> ArchitectureSpec:
        """The spec for `name`, or a `PluginError` saying why it is missing.

        `distribution` is the plugin expected to provide it (a manifest's `plugin`): when that
        plugin, or with no expectation any plugin, failed to load, the error names it and its
        one-line failure instead of listing what is installed.
        """
        specs = self.architectures()
        if name in specs:
            return specs[name]
        if name in self._conflicts:
            raise PluginError(self._conflicts[name].describe(distribution))
        wanted = _normalize(distribution) if distribution else None
        failed = [
            f
            for f in self.failures
            if wanted is None or wanted in {_normalize(f.name), _normalize(f.distribution or "")}
        ]
        if failed:
            reasons = "; ".join(f.describe() for f in failed)
            raise PluginError(f"architecture {name!r} is not available: {reasons}")
        if distribution:
            raise PluginError(
                f"architecture {name!r} comes from {distribution}, which is not installed: "
                f"`pip install {distribution}`"
            )
        known = ", ".join(sorted(specs)) or "none"
        raise PluginError(
            f"architecture {name!r}: no installed plugin provides it (installed: {known})"
        )

    def manifests(self) -> list[tuple[str, dict[str, Any] | Path]]:
        """Manifests contributed by plugins, as (plugin name, dict or JSON path)."""
        if self._manifests is None:
            collected: list[tuple[str, dict[str, Any] | Path]] = []
            for plugin_name, result in self._call_each("splifft_manifests"):
                try:
                    items = list(result or [])
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    self._record_hook_failure(plugin_name, "splifft_manifests", exc)
                    continue
                for item in items:
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
        env = settings()
        host = PluginHost(strict=env.strict_plugins)
        if not env.disable_plugin_autoload:
            host.load_entry_points(None if env.plugins is None else set(env.plugins))
        _host = host
    return _host


def set_host(host: PluginHost | None) -> None:
    """Replace the process-wide host (tests); `None` reloads on next use."""
    global _host
    _host = host
