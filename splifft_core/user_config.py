"""The user's config file (`{config_dir}/config.toml`), e.g. `default_model = "…"`."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from splifft_core import paths
from splifft_core.errors import ConfigError

BUILTIN_DEFAULT_MODEL = "hpss-fitzgerald-median"
"""Works offline out of the box: weightless harmonic/percussive separation."""

KEYS = {"default_model": "model used by `splifft run` without --model"}


def read_config(path: Path | None = None) -> dict[str, Any]:
    path = path or paths.config_file()
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from None


def write_value(key: str, value: str, path: Path | None = None) -> Path:
    if key not in KEYS:
        raise ConfigError(f"unknown config key {key!r} (known: {', '.join(KEYS)})")
    path = path or paths.config_file()
    config = read_config(path)
    config[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{k} = {_toml_string(str(v))}" for k, v in sorted(config.items())]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".part")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def default_model() -> str:
    """`SPLIFFT_DEFAULT_MODEL`, else the config file's `default_model`, else the built-in."""
    env = os.environ.get("SPLIFFT_DEFAULT_MODEL", "").strip()
    if env:
        return env
    value = read_config().get("default_model")
    return str(value) if value else BUILTIN_DEFAULT_MODEL
