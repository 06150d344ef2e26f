"""A second MSST importer that accepts what `msst_gain` accepts (ambiguity), and a picky one."""

from __future__ import annotations

from typing import Any

from splifft_core.errors import MsstConfigError
from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from tests.fake_plugins.identity import GainParams


def refuse(config: dict[str, Any]) -> dict[str, Any]:
    raise MsstConfigError("missing model.band_split (not a picky config)")


def crash(config: dict[str, Any]) -> dict[str, Any]:
    raise KeyError("a converter bug")


GAIN_TWIN = ArchitectureSpec(
    name="gain_twin",
    params_model=GainParams,
    model_factory="tests.fake_plugins.identity:build",
    msst_model_types=("gain_twin",),
    msst_import="tests.fake_plugins.msst_gain:import_msst",
)

PICKY = ArchitectureSpec(
    name="picky",
    params_model=GainParams,
    model_factory="tests.fake_plugins.identity:build",
    msst_model_types=("picky",),
    msst_import="tests.fake_plugins.msst_twin:refuse",
)

CRASHY = ArchitectureSpec(
    name="crashy",
    params_model=GainParams,
    model_factory="tests.fake_plugins.identity:build",
    msst_model_types=("crashy",),
    msst_import="tests.fake_plugins.msst_twin:crash",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [GAIN_TWIN, PICKY, CRASHY]
