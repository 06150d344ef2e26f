"""Checkpoint key mapping for Apollo (torch-free at import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from splifft_core.errors import CheckpointError

if TYPE_CHECKING:
    from torch import Tensor

    from splifft_plugin_apollo.params import ApolloParams

AUDIO_MODEL_PREFIX = "audio_model."
"""JusperLee/Apollo's Lightning module holds the generator as `audio_model` (and a
discriminator beside it, which inference does not need)."""
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
"""Prefixes added by DataParallel / DDP and `torch.compile`."""


def checkpoint_transform(state_dict: dict[str, Tensor], params: ApolloParams) -> dict[str, Tensor]:
    """Map foreign key layouts onto ours (Apollo's own, which MSST and `pytorch_model.bin` use).

    - a Lightning training checkpoint of JusperLee/Apollo (`audio_model.*` beside
      `discriminator.*`, as `BaseModel.load_state_dict_in_audio` reads it): the `audio_model.`
      keys, unprefixed, and nothing else;
    - wrapper prefixes (`module.`, `_orig_mod.`) are stripped.
    """
    state_dict = dict(state_dict)
    changed = True
    while changed:
        changed = False
        if any(k.startswith(AUDIO_MODEL_PREFIX) for k in state_dict):
            state_dict = {
                k[len(AUDIO_MODEL_PREFIX) :]: v
                for k, v in state_dict.items()
                if k.startswith(AUDIO_MODEL_PREFIX)
            }
            changed = True
        for prefix in WRAPPER_PREFIXES:
            if state_dict and all(k.startswith(prefix) for k in state_dict):
                state_dict = {k[len(prefix) :]: v for k, v in state_dict.items()}
                changed = True
    if not any(k.startswith("BN.") for k in state_dict):
        raise CheckpointError("not an Apollo checkpoint: it has no 'BN.' (band embedding) weights")
    return state_dict
