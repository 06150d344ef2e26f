"""splifft plugin: BandIt (Watcharasupat et al.), cinematic dialogue / music / effects separation.

Two architectures: `bandit` (BandIt v1, `splifft_plugin_bandit.v1`) and `bandit_v2`
(`splifft_plugin_bandit.v2`). Importing this module stays torch-free.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_bandit import v1, v2


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [v1.SPEC, v2.SPEC]


__all__ = ["splifft_architectures"]
