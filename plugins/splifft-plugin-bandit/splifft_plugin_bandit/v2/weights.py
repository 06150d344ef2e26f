"""Checkpoint key mapping for BandIt v2 (torch-free at import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from splifft_core.errors import CheckpointError

if TYPE_CHECKING:
    from torch import Tensor

    from splifft_plugin_bandit.v2.params import BanditV2Params

MODEL_PREFIX = "model."
"""kwatcharasupat/bandit-v2's Lightning system holds the network as `model` (beside loss and
metric modules)."""
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
"""Prefixes added by DataParallel / DDP and `torch.compile`."""
COMPILED = "._orig_mod."
"""`torch.compile`d submodules (the band and mask heads, the RNN stack) when not disabled."""
HEAD_ALIASES = (("norm.", "combined.0."), ("hidden.", "combined.1."), ("output.", "combined.2."))
"""A mask head's modules and their `combined` alias; the reference's state dicts hold both."""


def checkpoint_transform(
    state_dict: dict[str, Tensor], params: BanditV2Params
) -> dict[str, Tensor]:
    """Map foreign key layouts onto ours (the reference's own, which MSST uses).

    - a Lightning checkpoint of kwatcharasupat/bandit-v2 (`model.*`): the `model.` keys,
      unprefixed, and nothing else;
    - wrapper prefixes (`module.`, `_orig_mod.`) are stripped, and `._orig_mod.` inside keys;
    - a mask head saved under one of its two names (`norm`/`hidden`/`output` or `combined`)
      gets the other too, and missing STFT windows are our own (a periodic Hann window).
    """
    state_dict = {k.replace(COMPILED, "."): v for k, v in state_dict.items()}
    changed = True
    while changed:
        changed = False
        if any(k.startswith(MODEL_PREFIX) for k in state_dict) and not any(
            k.startswith("band_split.") for k in state_dict
        ):
            state_dict = {
                k[len(MODEL_PREFIX) :]: v
                for k, v in state_dict.items()
                if k.startswith(MODEL_PREFIX)
            }
            changed = True
        for prefix in WRAPPER_PREFIXES:
            if state_dict and all(k.startswith(prefix) for k in state_dict):
                state_dict = {k[len(prefix) :]: v for k, v in state_dict.items()}
                changed = True
    if not any(k.startswith("band_split.") for k in state_dict):
        raise CheckpointError(
            "not a BandIt v2 checkpoint: it has no 'band_split.' (band embedding) weights"
        )
    for key, value in list(state_dict.items()):
        if not key.startswith("mask_estim.") or ".norm_mlp." not in key:
            continue
        head, _, rest = key.partition(".norm_mlp.")
        index, _, name = rest.partition(".")
        for plain, alias in HEAD_ALIASES:
            for ours, other in ((plain, alias), (alias, plain)):
                if name.startswith(ours):
                    twin = f"{head}.norm_mlp.{index}.{other}{name[len(ours) :]}"
                    state_dict.setdefault(twin, value)
    for name in ("stft.window", "istft.window"):
        if name not in state_dict:
            import torch

            state_dict[name] = torch.hann_window(params.win_length or params.n_fft)
    return state_dict
