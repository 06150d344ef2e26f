"""Our HTDemucs against golden outputs of the reference `demucs` package (random weights).

Fixtures: `tests/fixtures/make_demucs_fixtures.py` (demucs 4.1.0, torch 2.13.0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from splifft_plugin_demucs.network import BagOfModels, HTDemucs, build_model, select_stems
from splifft_plugin_demucs.params import HTDemucsParams
from splifft_plugin_demucs.stitch import apply_shifted, apply_split, transition_window

FIXTURES = Path(__file__).parent / "fixtures"
ATOL = 1e-4


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = torch.load(FIXTURES / f"demucs_{name}.pt", weights_only=True)
    return data


@pytest.fixture(scope="module")
def mix() -> torch.Tensor:
    audio: torch.Tensor = load_fixture("mix")["mix"]
    return audio[None]


def build_single(name: str) -> tuple[HTDemucs, HTDemucsParams, dict[str, Any]]:
    data = load_fixture(name)
    params = HTDemucsParams(**data["kwargs"])
    model = build_model(params)
    assert isinstance(model, HTDemucs)
    model.load_state_dict(data["state"], strict=True)
    return model.eval(), params, data


def build_bag() -> tuple[BagOfModels, HTDemucsParams, dict[str, Any]]:
    data = load_fixture("bag")
    params = HTDemucsParams(**data["kwargs"], bag_weights=data["bag_weights"])
    model = build_model(params)
    assert isinstance(model, BagOfModels)
    state = {
        f"models.{m}.{key}": value
        for m, member in enumerate(data["states"])
        for key, value in member.items()
    }
    model.load_state_dict(state, strict=True)
    return model.eval(), params, data


@pytest.mark.parametrize("name", ["four", "six"])
def test_demucs_segment_forward_matches_reference(name: str) -> None:
    model, params, data = build_single(name)
    with torch.inference_mode():
        out = model(data["segment_input"])
        short = model(data["short_input"])
    assert out.shape == (1, len(params.sources), 2, params.chunk_size)
    torch.testing.assert_close(out, data["segment_output"], atol=ATOL, rtol=0)
    # shorter than the training segment: padded to it, then cropped (use_train_segment)
    assert short.shape[-1] == data["short_input"].shape[-1]
    torch.testing.assert_close(short, data["short_output"], atol=ATOL, rtol=0)


@pytest.mark.parametrize("variant", ["cape_postnorm", "scaled_norms", "msst_subbands"])
def test_demucs_variant_forward_matches_reference(variant: str) -> None:
    """CAPE / scaled embeddings, post-norm and group-norm transformers, no rewrite, GroupNorm
    from the first layer, decoder-only DConv, and MSST's `num_subbands` (vs MSST's HTDemucs)."""
    data = load_fixture("variants")[variant]
    params = HTDemucsParams(**data["kwargs"])
    model = build_model(params)
    model.load_state_dict(data["state"], strict=True)
    with torch.inference_mode():
        out = model.eval()(data["segment_input"])
        short = model(data["short_input"])
    torch.testing.assert_close(out, data["segment_output"], atol=ATOL, rtol=0)
    torch.testing.assert_close(short, data["short_output"], atol=ATOL, rtol=0)


def test_demucs_apply_split_matches_reference(mix: torch.Tensor) -> None:
    model, params, data = build_single("four")
    with torch.inference_mode():
        out = apply_split(model, mix, params.chunk_size, overlap=0.25)
    torch.testing.assert_close(out[0], data["apply_split"], atol=ATOL, rtol=0)


def test_demucs_apply_shifts_match_reference(mix: torch.Tensor) -> None:
    model, params, data = build_single("four")
    offsets = [int(o) for o in data["shift_offsets"]]
    assert len(offsets) == 2
    with torch.inference_mode():
        out = apply_shifted(
            model, mix, params.chunk_size, offsets, max_shift=params.samplerate // 2, overlap=0.25
        )
    torch.testing.assert_close(out[0], data["apply_shifts2"], atol=ATOL, rtol=0)


def test_demucs_bag_matches_reference(mix: torch.Tensor) -> None:
    model, params, data = build_bag()
    with torch.inference_mode():
        out = apply_split(model, mix, params.chunk_size, overlap=0.25)
    torch.testing.assert_close(out[0], data["apply_split"], atol=ATOL, rtol=0)


def test_demucs_bag_stem_selection_drops_unneeded_models() -> None:
    model, params, _ = build_bag()
    x = torch.randn(1, 2, params.chunk_size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        full = model(x)
    # weights [[1, 0, .5, .25], [0, 1, .5, .75]]: drums needs only the first model
    pruned, stems = select_stems(model, params, ("drums",))
    assert stems == ("drums",)
    assert isinstance(model, BagOfModels) and len(model.models) == 1
    with torch.inference_mode():
        out = pruned(x)
    assert out.shape == (1, 1, 2, params.chunk_size)
    torch.testing.assert_close(out[:, 0], full[:, 0], atol=1e-5, rtol=0)


def test_demucs_transition_window() -> None:
    w = transition_window(6)
    torch.testing.assert_close(w, torch.tensor([1, 2, 3, 3, 2, 1]) / 3.0)
    w = transition_window(5, power=2.0)
    torch.testing.assert_close(w, (torch.tensor([1, 2, 3, 2, 1]) / 3.0) ** 2)


def test_demucs_params_chunk_size_and_errors() -> None:
    params = HTDemucsParams(sources=("vocals", "other"), segment=7.8)
    assert params.chunk_size == 343980  # int(Fraction(39, 5) * 44100), as demucs
    assert params.output_stem_names == ("vocals", "other")
    assert params.sample_rate == 44100 and params.audio_channels == 2
    with pytest.raises(ValidationError, match="extra"):
        HTDemucsParams(sources=("vocals",), not_an_option=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="cac=False"):
        HTDemucsParams(sources=("vocals",), cac=False)
    with pytest.raises(ValidationError, match="multi_freqs"):
        HTDemucsParams(sources=("vocals",), multi_freqs=(0.5,))
    with pytest.raises(ValidationError, match="sparse"):
        HTDemucsParams(sources=("vocals",), t_sparse_self_attn=True)
    with pytest.raises(ValidationError, match="one per source"):
        HTDemucsParams(sources=("vocals", "other"), bag_weights=((1.0,),))
