"""Reading weights safely: `torch.load(weights_only=True)` or safetensors, never pickled code."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from splifft_core.errors import CheckpointError

CONTAINER_KEYS = ("state_dict", "model_state_dict", "model", "state", "weights")
"""Keys under which training frameworks nest the state dict."""


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """The tensors of a checkpoint file, unwrapped from common training containers."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            raw: Any = load_file(str(path))
        else:
            raw = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint file not found") from None
    except pickle.UnpicklingError:
        # torch's own message advises `weights_only=False`, i.e. running the file's code
        raise CheckpointError(refused_pickle_message(path)) from None
    except Exception as exc:
        reason = " ".join(str(exc).split())
        if len(reason) > 200:
            reason = reason[:200] + "…"
        raise CheckpointError(f"{path}: not a loadable checkpoint ({reason})") from None
    return unwrap_state_dict(raw, str(path))


def refused_pickle_message(path: Path | str) -> str:
    """What a checkpoint `torch.load(weights_only=True)` refuses is: one line, and no advice to
    load it unsafely."""
    return f"{path}: not a plain-tensor checkpoint (it would run pickled code); refused"


def unwrap_state_dict(raw: Any, origin: str) -> dict[str, Tensor]:
    for _ in range(3):
        if isinstance(raw, Mapping) and not _is_state_dict(raw):
            inner = next((raw[k] for k in CONTAINER_KEYS if k in raw), None)
            if inner is None:
                break
            raw = inner
    if not isinstance(raw, Mapping) or not _is_state_dict(raw):
        raise CheckpointError(f"{origin}: holds no state dict of tensors")
    return {str(k): v for k, v in raw.items() if isinstance(v, Tensor)}


def _is_state_dict(raw: Mapping[Any, Any]) -> bool:
    return bool(raw) and all(isinstance(v, Tensor) for v in raw.values())


def load_into(network: nn.Module, state_dict: dict[str, Tensor], origin: str) -> None:
    """A strict `load_state_dict` whose failure is one line naming what does not fit."""
    own = network.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[0]!r})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]!r})")
        raise CheckpointError(f"{origin}: does not fit the model: {'; '.join(parts)}")
    for key, value in state_dict.items():
        if own[key].shape != value.shape:
            raise CheckpointError(
                f"{origin}: {key!r} has shape {tuple(value.shape)}, the model expects "
                f"{tuple(own[key].shape)} (do the params match the checkpoint?)"
            )
    network.load_state_dict(state_dict, strict=True)
