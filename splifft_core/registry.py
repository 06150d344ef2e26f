"""Identifier-keyed manifests from three sources: user-local, plugins, the built-in registry.

Precedence: user-local (`{data_dir}/manifests/*.json`) > plugin-contributed > built-in. Two
sources defining one identifier is an error naming both, unless the higher one is a user-local
manifest with `"overrides": true`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from splifft_core import paths
from splifft_core.atomic import os_reason, read_regular_text
from splifft_core.errors import ManifestError, ModelNotFoundError, validation_message
from splifft_core.manifest import Manifest
from splifft_core.plugins import PluginHost, get_host

SourceKind = str  # "user" | "plugin" | "builtin" | "file"


@dataclass(frozen=True)
class ManifestEntry:
    manifest: Manifest
    source: SourceKind
    origin: str
    """Where it came from: a file path, or `plugin NAME`."""
    base_dir: Path | None = None
    """Folder that relative `local` resource paths resolve against."""


@dataclass(frozen=True)
class ManifestProblem:
    """A manifest source that failed to read or validate, and so was skipped."""

    message: str
    """One line: the file (or plugin), the manifest and the field that is wrong."""
    identifiers: tuple[str, ...] = ()
    """The identifiers the broken source claims (its `identifier` fields, its file name)."""


@dataclass
class Registry:
    entries: dict[str, ManifestEntry] = field(default_factory=dict)
    conflicts: dict[str, str] = field(default_factory=dict)
    """identifier → one-line error, for identifiers defined twice without an override."""
    problems: list[ManifestProblem] = field(default_factory=list)
    """Manifests that failed to read or validate (skipped)."""

    def get(self, identifier: str) -> ManifestEntry:
        if identifier in self.conflicts:
            raise ManifestError(self.conflicts[identifier])
        if identifier not in self.entries:
            for problem in self.problems:
                if identifier in problem.identifiers:
                    raise ManifestError(problem.message)
            close = [i for i in self.entries if identifier in i or i in identifier]
            hint = f" (did you mean {', '.join(sorted(close)[:3])}?)" if close else ""
            raise ModelNotFoundError(
                f"unknown model {identifier!r}{hint}; `splifft ls --all` lists the known models"
            )
        return self.entries[identifier]

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(sorted(self.entries.values(), key=lambda e: e.manifest.identifier))

    def warnings(self) -> list[str]:
        """Problems and conflicts, one line each (for `splifft ls` and friends)."""
        return [
            *(p.message for p in self.problems),
            *(self.conflicts[i] for i in sorted(self.conflicts)),
        ]

    def add(self, entry: ManifestEntry) -> None:
        ident = entry.manifest.identifier
        existing = self.entries.get(ident)
        if existing is None:
            self.entries[ident] = entry
            return
        # Sources are added from the highest precedence down.
        if existing.source == "user" and existing.manifest.overrides:
            return
        self.conflicts.setdefault(
            ident,
            (
                f"model {ident!r} is defined twice: by {existing.source} manifest {existing.origin} "
                f"and by {entry.source} manifest {entry.origin} (a user-local manifest may set "
                '"overrides": true to replace another)'
            ),
        )


def builtin_registry_dir() -> Path:
    """The shipped `registry/` folder (packaged as `splifft_core/_registry` in wheels)."""
    packaged = Path(__file__).with_name("_registry")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "registry"


def builtin_manifest_files() -> list[Path]:
    """The built-in catalogue: one JSON file per model in `registry/`."""
    return _json_files(builtin_registry_dir())


def parse_manifests(raw: Any, origin: str) -> list[Manifest]:
    """Validate one manifest dict or a list of them; errors name the origin."""
    items = raw if isinstance(raw, list) else [raw]
    out: list[Manifest] = []
    for item in items:
        try:
            out.append(Manifest.model_validate(item))
        except ValidationError as exc:
            ident = item.get("identifier", "?") if isinstance(item, dict) else "?"
            raise ManifestError(
                f"{origin}: manifest {ident!r}: {validation_message(exc, 'manifest')}"
            ) from None
    return out


def read_manifest_file(path: Path) -> list[Manifest]:
    """The manifests of one JSON file; only a regular file is read (a FIFO would block)."""
    try:
        raw = json.loads(read_regular_text(path))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read manifest: {os_reason(exc)}") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: manifest is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    return parse_manifests(raw, str(path))


def _json_files(folder: Path, recursive: bool = False) -> list[Path]:
    if not folder.is_dir():
        return []
    found = folder.rglob("*.json") if recursive else folder.glob("*.json")
    return sorted(p for p in found if not p.name.endswith(".schema.json"))


def load_registry(host: PluginHost | None = None) -> Registry:
    host = host or get_host()
    registry = Registry()

    def take(manifests: list[Manifest], source: str, origin: str, base: Path | None) -> None:
        for manifest in manifests:
            if source != "user":
                local = [r for r in manifest.resources if r.kind == "local"]
                if local:
                    message = (
                        f"{origin}: manifest {manifest.identifier!r}: local resources are only "
                        "allowed in user-local manifests"
                    )
                    registry.problems.append(ManifestProblem(message, (manifest.identifier,)))
                    continue
            registry.add(ManifestEntry(manifest, source, origin, base))

    for path in _json_files(paths.user_manifests_dir()):
        try:
            take(read_manifest_file(path), "user", str(path), path.parent)
        except ManifestError as exc:
            registry.problems.append(ManifestProblem(str(exc), claimed_identifiers(path)))
    for plugin_name, item in host.manifests():
        origin = f"plugin {plugin_name}"
        try:
            if isinstance(item, Path):
                take(read_manifest_file(item), "plugin", f"{origin} ({item.name})", None)
            else:
                take(parse_manifests(item, origin), "plugin", origin, None)
        except ManifestError as exc:
            claimed = claimed_identifiers(item) if isinstance(item, Path) else _identifiers(item)
            registry.problems.append(ManifestProblem(str(exc), claimed))
    for path in builtin_manifest_files():
        try:
            take(read_manifest_file(path), "builtin", str(path), None)
        except ManifestError as exc:
            registry.problems.append(ManifestProblem(str(exc), claimed_identifiers(path)))
    return registry


def claimed_identifiers(path: Path) -> tuple[str, ...]:
    """The identifiers a (possibly broken) manifest file claims: its file name's stem and every
    `identifier` it holds, so that `get` can say why that model is missing."""
    claimed = [path.stem]
    with contextlib.suppress(OSError, ValueError):
        claimed.extend(_identifiers(json.loads(read_regular_text(path))))
    return tuple(dict.fromkeys(claimed))


def _identifiers(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    return tuple(
        item["identifier"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("identifier"), str)
    )


def resolve_manifest(
    identifier_or_path: str | Path, host: PluginHost | None = None
) -> ManifestEntry:
    """A registry identifier, or the path of a manifest JSON file."""
    text = str(identifier_or_path)
    candidate = Path(text)
    if text.endswith(".json") or candidate.is_file():
        if not candidate.exists():
            raise ModelNotFoundError(f"{candidate}: manifest file not found")
        manifests = read_manifest_file(candidate)
        if len(manifests) != 1:
            raise ManifestError(f"{candidate}: holds {len(manifests)} manifests, expected one")
        return ManifestEntry(manifests[0], "file", str(candidate), candidate.resolve().parent)
    return load_registry(host).get(text)
