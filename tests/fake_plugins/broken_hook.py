"""A plugin whose hooks raise: must be reported and skipped."""

from __future__ import annotations

from typing import Any

from splifft_core.hookspecs import hookimpl


@hookimpl
def splifft_architectures() -> list[Any]:
    raise RuntimeError("this plugin is broken on purpose")


@hookimpl
def splifft_manifests() -> list[Any]:
    raise RuntimeError("manifests broken on purpose")
