"""Checkpoint key mapping and stem selection."""

from __future__ import annotations

import pytest
import torch
from splifft_plugin_roformer import BS_ROFORMER, MEL_ROFORMER
from splifft_plugin_roformer.network import build_mel_roformer
from splifft_plugin_roformer.params import MelRoformerParams
from splifft_plugin_roformer.weights import checkpoint_transform, select_stems

from splifft_core.errors import CheckpointError, ConfigError

MEL = MelRoformerParams(
    chunk_size=1024,
    output_stem_names=("vocals", "other"),
    sample_rate=16000,
    dim=4,
    depth=2,
    heads=1,
    dim_head=4,
    time_transformer_depth=1,
    freq_transformer_depth=1,
    num_bands=6,
    stft_n_fft=128,
    stft_hop_length=32,
    stft_win_length=128,
)


def test_wrapper_prefixes_are_stripped() -> None:
    state = build_mel_roformer(MEL).state_dict()
    wrapped = {f"module._orig_mod.{k}": v for k, v in state.items()}
    assert checkpoint_transform(wrapped, MEL).keys() == state.keys()
    model_prefixed = {f"model.{k}": v for k, v in state.items()}
    assert MEL_ROFORMER.transform_checkpoint(model_prefixed, MEL).keys() == state.keys()


def test_lucidrains_empty_linear_slot_is_shifted() -> None:
    state = build_mel_roformer(MEL).state_dict()
    lucid = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "layers":
            parts[2] = str(int(parts[2]) + 1)
        lucid[".".join(parts)] = value
    assert lucid.keys() != state.keys()
    assert checkpoint_transform(lucid, MEL).keys() == state.keys()


def test_not_a_roformer_checkpoint() -> None:
    with pytest.raises(CheckpointError, match="band_split"):
        checkpoint_transform({"conv.weight": torch.zeros(1)}, MEL)


def test_select_stems() -> None:
    network = build_mel_roformer(MEL).eval()
    audio = torch.randn(1, 1, 1024)
    with torch.no_grad():
        full = network(audio)
        pruned, stems = select_stems(network, MEL, ("other",))
        assert stems == ("other",)
        assert torch.allclose(pruned(audio), full[:, 1:])
    with pytest.raises(ConfigError, match="drums"):
        select_stems(network, MEL, ("drums",))
    assert BS_ROFORMER.stem_selection is not None


def test_any_length_and_batch() -> None:
    network = build_mel_roformer(MEL).eval()
    with torch.no_grad():
        for batch, length in ((1, 1000), (3, 1024), (2, 777)):
            assert network(torch.randn(batch, 1, length)).shape == (batch, 2, 1, length)
    with pytest.raises(ValueError, match="channels"):
        network(torch.randn(1, 2, 1024))
