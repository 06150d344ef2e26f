"""Where splifft keeps user data, caches and config (`SPLIFFT_HOME` relocates all of them)."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from splifft_core.settings import settings

APP_NAME = "splifft"


def _home() -> Path | None:
    return settings().home


def data_dir() -> Path:
    """User data: user-local manifests live in `data_dir() / "manifests"`."""
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME))


def cache_dir() -> Path:
    """splifft's own download cache (URL resources, digest records)."""
    home = _home()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME))


def config_dir() -> Path:
    home = _home()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME))


def config_file() -> Path:
    return config_dir() / "config.toml"


def user_manifests_dir() -> Path:
    return data_dir() / "manifests"
