"""The `SPLIFFT_*` environment variables, read into one typed, frozen `Settings`.

[settings()][splifft_core.settings.settings] is the only reader of these variables: it parses
them once and returns the same object for as long as they keep their values (a changed
variable, e.g. `monkeypatch.setenv` in a test, is picked up on the next call;
[reload_settings()][splifft_core.settings.reload_settings] forces a fresh read). An invalid value
is a one-line `ConfigError` naming the variable.

The documentation's table of variables is generated from `VARIABLES` (the fields' metadata)
and `FOREIGN_VARIABLES`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from splifft_core.errors import ConfigError

TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS: Final = frozenset({"0", "false", "no", "off"})


def _env(name: str, doc: str) -> dict[str, str]:
    """A `Settings` field's metadata: the variable it is read from, and what it does."""
    return {"env": name, "doc": doc}


@dataclass(frozen=True)
class Settings:
    """splifft's settings from the environment: one field per `SPLIFFT_*` variable."""

    home: Path | None = field(
        default=None,
        metadata=_env(
            "SPLIFFT_HOME",
            "One folder for all of splifft's files: `data/` (user-local manifests), `cache/` (URL "
            "downloads, recorded digests) and `config/` (`config.toml`). Unset: the platform's "
            "user data, cache and config folders.",
        ),
    )
    default_model: str | None = field(
        default=None,
        metadata=_env(
            "SPLIFFT_DEFAULT_MODEL",
            "The model `splifft run` and `splifft eval` use without `--model`; wins over "
            "`default_model` in `config.toml`.",
        ),
    )
    plugins: frozenset[str] | None = field(
        default=None,
        metadata=_env(
            "SPLIFFT_PLUGINS",
            "Allowlist of plugins to load: comma-separated entry-point or distribution names. "
            "Unset: every installed plugin.",
        ),
    )
    strict_plugins: bool = field(
        default=False,
        metadata=_env(
            "SPLIFFT_STRICT_PLUGINS",
            "A plugin that fails to load or register is an error, not a warning.",
        ),
    )
    disable_plugin_autoload: bool = field(
        default=False,
        metadata=_env(
            "SPLIFFT_DISABLE_PLUGIN_AUTOLOAD",
            "Load no entry-point plugins (tests register the plugins they need by hand).",
        ),
    )
    onednn: bool = field(
        default=True,
        metadata=_env(
            "SPLIFFT_ONEDNN",
            "Linear layers may run through oneDNN's matmul on x86 CPUs (`splifft_core.kernels`); "
            "off: `F.linear` everywhere in the process. Also the default of `fast_kernels` "
            "(`splifft run --no-fast-kernels`).",
        ),
    )
    malloc_tuning: bool = field(
        default=True,
        metadata=_env(
            "SPLIFFT_MALLOC_TUNING",
            "Loading a separator tunes glibc malloc to keep freed chunk buffers for reuse "
            "(`splifft_core.allocator`; process-wide, Linux only): the default of `tune_malloc` "
            "(`splifft run --no-malloc-tuning`).",
        ),
    )
    serve_token: str | None = field(
        default=None,
        metadata=_env(
            "SPLIFFT_SERVE_TOKEN",
            "The token `splifft serve` requires (the default of `--token`; keeps it out of the "
            "process list).",
        ),
    )


@dataclass(frozen=True)
class Variable:
    """One environment variable: the `Settings` field it fills, its kind, default and doc."""

    name: str
    field: str
    kind: str
    """How the value is read: `path`, `text`, `names` (comma-separated) or `switch` (1/0,
    true/false, yes/no, on/off)."""
    default: Any
    doc: str


_KINDS: Final = {
    "Path | None": "path",
    "str | None": "text",
    "frozenset[str] | None": "names",
    "bool": "switch",
}
"""`Settings` field annotation → how the variable is parsed."""

KIND_DOCS: Final = {
    "path": "a folder",
    "text": "text (for `SPLIFFT_DEFAULT_MODEL`, a model identifier or manifest file)",
    "names": "comma-separated names",
    "switch": "`1` or `0` (also `true`/`false`, `yes`/`no`, `on`/`off`)",
}
"""What each kind of value looks like (for the documentation's table)."""

VARIABLES: Final[tuple[Variable, ...]] = tuple(
    Variable(f.metadata["env"], f.name, _KINDS[str(f.type)], f.default, f.metadata["doc"])
    for f in fields(Settings)
)
"""Every variable splifft reads, in `Settings` field order."""

FOREIGN_VARIABLES: Final[tuple[tuple[str, str], ...]] = (
    ("HF_HOME", "huggingface_hub's home; Hub files are cached in `$HF_HOME/hub`."),
    ("HF_HUB_CACHE", "The Hub cache folder itself (wins over `HF_HOME`)."),
    ("HF_ENDPOINT", "Another Hub server (a mirror)."),
    ("HF_HUB_OFFLINE", "Use cached files only; a missing file is an error naming `splifft pull`."),
    ("HF_TOKEN", "The token for gated or private repositories (read by huggingface_hub)."),
)
"""Variables splifft honours with huggingface_hub's meaning; read where a file is fetched
(`splifft_core.hub`), not part of `Settings`."""


def _path(name: str, raw: str) -> Path:
    return Path(raw).expanduser()


def _text(name: str, raw: str) -> str:
    return raw


def _names(name: str, raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _switch(name: str, raw: str) -> bool:
    word = raw.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}={raw!r} is not a switch: use 1/0, true/false, yes/no or on/off")


_PARSERS: Final[dict[str, Callable[[str, str], Any]]] = {
    "path": _path,
    "text": _text,
    "names": _names,
    "switch": _switch,
}


def parse(environ: Mapping[str, str]) -> Settings:
    """`Settings` from a mapping of variables; unset or blank ones take the default."""
    values: dict[str, Any] = {}
    for variable in VARIABLES:
        raw = (environ.get(variable.name) or "").strip()
        if raw:
            values[variable.field] = _PARSERS[variable.kind](variable.name, raw)
    return Settings(**values)


_cache: tuple[tuple[str | None, ...], Settings] | None = None


def _raw() -> tuple[str | None, ...]:
    return tuple(os.environ.get(v.name) for v in VARIABLES)


def settings() -> Settings:
    """The settings for the environment as it is now; parsed again only when a variable changed."""
    global _cache
    raw = _raw()
    if _cache is None or _cache[0] != raw:
        _cache = (raw, parse(os.environ))
    return _cache[1]


def reload_settings() -> Settings:
    """Forget the parsed settings and read the environment again."""
    global _cache
    _cache = None
    return settings()
