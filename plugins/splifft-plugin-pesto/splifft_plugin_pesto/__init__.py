"""splifft plugin: PESTO (Riou et al., ISMIR 2023), self-supervised monophonic pitch estimation.

Importing this module stays torch-free: the network lives in `splifft_plugin_pesto.network`,
the checkpoint loader in `splifft_plugin_pesto.checkpoint` and the decoder in
`splifft_plugin_pesto.decode`, named by import path.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_pesto.params import PestoParams

_ANALYSIS: dict[str, Any] = {"task": "pitch", "decoder": "splifft_plugin_pesto.decode:decode"}
# the spec's `task` and `decoder` fields are the core's pending change: passed when they exist
_FIELDS = {f.name for f in dataclasses.fields(ArchitectureSpec)}

SPEC = ArchitectureSpec(
    name="pesto",
    params_model=PestoParams,
    model_factory="splifft_plugin_pesto.network:build",
    checkpoint_loader="splifft_plugin_pesto.checkpoint:load_checkpoint",
    description=(
        "PESTO: harmonic CQT and a small frame-wise ResNet giving 128·3 pitch bins per 10 ms "
        "frame, a voicing classifier, and CREPE's argmax-local weighted average."
    ),
    **{k: v for k, v in _ANALYSIS.items() if k in _FIELDS},
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC]


__all__ = ["SPEC", "PestoParams", "splifft_architectures"]
