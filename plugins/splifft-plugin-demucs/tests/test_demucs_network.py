"""Our HTDemucs against golden outputs of the reference `demucs` package (random weights).

Fixtures: `tests/fixtures/make_demucs_fixtures.py` (demucs 4.1.0, torch 2.13.0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from splifft_plugin_demucs.network import BagOfModels, HTDemucs, build_model, select_stems
from splifft_plugin_demucs.params import HTDemucsParams
from torch import Tensor
from torch.nn import functional as F

# -- demucs' chunking (`demucs.apply.apply_model`), a small non-streaming reference ----------
# The core engine does the same with `chunk_layout="centered_tail"` and the triangular window
# (see test_demucs_plugin.py); this states the procedure independently of it.

ChunkModel = Callable[[Tensor], Tensor]
"""`(batch, channels, segment)` -> `(batch, stems, channels, segment)`."""


def transition_window(segment: int, power: float = 1.0) -> Tensor:
    """Demucs' triangle weight over one segment, peak 1, ends `1 / max`."""
    half = segment // 2
    rising = torch.arange(1, half + 1)
    falling = torch.arange(segment - half, 0, -1)
    weight = torch.cat([rising, falling]).to(torch.float32)
    return (weight / weight.max()) ** power


def _centred_chunk(mix: Tensor, start: int, length: int, segment: int) -> Tensor:
    """`segment` samples centred on `mix[..., start : start + length]`, zeros outside `mix`."""
    first = start - (segment - length) // 2
    last = first + segment
    lo, hi = max(0, first), min(mix.shape[-1], last)
    return F.pad(mix[..., lo:hi], (lo - first, last - hi))


def apply_split(
    model: ChunkModel,
    mix: Tensor,
    segment: int,
    overlap: float = 0.25,
    transition_power: float = 1.0,
) -> Tensor:
    """`(batch, channels, length)` -> `(batch, stems, channels, length)`, as demucs splits."""
    length = mix.shape[-1]
    stride = int((1 - overlap) * segment)
    weight = transition_window(segment, transition_power).to(mix)
    out: Tensor | None = None
    total = torch.zeros(length, dtype=mix.dtype, device=mix.device)
    for start in range(0, length, stride):
        chunk_length = min(segment, length - start)
        delta = segment - chunk_length
        chunk_out = model(_centred_chunk(mix, start, chunk_length, segment))
        chunk_out = chunk_out[..., delta // 2 : delta // 2 + chunk_length]
        if out is None:
            out = mix.new_zeros((*chunk_out.shape[:-1], length))
        out[..., start : start + chunk_length] += weight[:chunk_length] * chunk_out
        total[start : start + chunk_length] += weight[:chunk_length]
    assert out is not None
    return out / total


def apply_shifted(
    model: ChunkModel,
    mix: Tensor,
    segment: int,
    offsets: Sequence[int],
    max_shift: int,
    overlap: float = 0.25,
    transition_power: float = 1.0,
) -> Tensor:
    """Demucs' shift trick with given offsets (each in `[0, max_shift]`)."""
    length = mix.shape[-1]
    padded = F.pad(mix, (max_shift, max_shift))
    out: Tensor | None = None
    for offset in offsets:
        if not 0 <= offset <= max_shift:
            raise ValueError(f"shift offset {offset} is outside [0, {max_shift}]")
        shifted = padded[..., offset : max_shift + length]
        part = apply_split(model, shifted, segment, overlap, transition_power)
        part = part[..., max_shift - offset :]
        out = part if out is None else out + part
    assert out is not None
    return out / len(offsets)


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
