"""The `msst`, `uvr` and `demucs` chunk layouts equal those pipelines' stitching, re-typed here as
straightforward loops over whole tensors (an independent reference for the streaming engine)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from splifft_core.config import InferenceConfig
from splifft_core.separator import Separator
from tests.fake_plugins.probe import PROBE

Model = Callable[[torch.Tensor], torch.Tensor]


def msst_demix(model: Model, mix: torch.Tensor, chunk_size: int, num_overlap: int) -> torch.Tensor:
    """Music-Source-Separation-Training's generic `demix` (batch size 1)."""
    fade_size = chunk_size // 10
    step = chunk_size // num_overlap
    border = chunk_size - step
    length_init = mix.shape[-1]
    window_base = torch.ones(chunk_size)
    window_base[:fade_size] = torch.linspace(0, 1, fade_size)
    window_base[-fade_size:] = torch.linspace(1, 0, fade_size)
    padded = length_init > 2 * border and border > 0
    if padded:
        mix = F.pad(mix[None], (border, border), mode="reflect")[0]
    result = counter = None
    i = 0
    while i < mix.shape[1]:
        part = mix[:, i : i + chunk_size]
        chunk_len = part.shape[-1]
        pad_mode = "reflect" if chunk_len > chunk_size // 2 else "constant"
        part = F.pad(part[None], (0, chunk_size - chunk_len), mode=pad_mode, value=0)[0]
        x = model(part[None])[0]
        if result is None:
            result = torch.zeros(x.shape[0], *mix.shape)
            counter = torch.zeros(x.shape[0], *mix.shape)
        assert counter is not None
        i += step
        window = window_base.clone()
        if i - step == 0:
            window[:fade_size] = 1
        elif i >= mix.shape[1]:
            window[-fade_size:] = 1
        result[..., i - step : i - step + chunk_len] += x[..., :chunk_len] * window[:chunk_len]
        counter[..., i - step : i - step + chunk_len] += window[:chunk_len]
    assert result is not None and counter is not None
    out = torch.nan_to_num(result / counter, nan=0.0)
    return out[..., border:-border] if padded else out


def uvr_demix(
    model: Model, mix: torch.Tensor, chunk_size: int, trim: int, step: int
) -> torch.Tensor:
    """UVR's MDX-Net `demix` (separate.py: `initialize_mix` then the hanning-weighted loop)."""
    import numpy as np

    length = mix.shape[-1]
    generated = chunk_size - 2 * trim
    pad = generated - length % generated
    mixture = torch.cat([torch.zeros(2, trim), mix, torch.zeros(2, pad), torch.zeros(2, trim)], 1)
    result = divider = None
    window: torch.Tensor | float
    for i in range(0, mixture.shape[-1], step):
        end = min(i + chunk_size, mixture.shape[-1])
        actual = end - i
        # UVR: no window when the overlap is 0 (step = chunk)
        window = torch.from_numpy(np.hanning(actual)).float() if step < chunk_size else 1.0
        part = mixture[:, i:end]
        if end != i + chunk_size:
            part = torch.cat([part, torch.zeros(2, i + chunk_size - end)], -1)
        x = model(part[None])[0]
        if result is None:
            result = torch.zeros(x.shape[0], 2, mixture.shape[-1])
            divider = torch.zeros(x.shape[0], 2, mixture.shape[-1])
        assert divider is not None
        result[..., i:end] += x[..., :actual] * window
        divider[..., i:end] += window
    assert result is not None and divider is not None
    return (result / divider)[..., trim:-trim][..., :length]


def demucs_apply(
    model: Model,
    mix: torch.Tensor,
    segment: int,
    overlap: float,
    offsets: list[int],
    max_shift: int,
) -> torch.Tensor:
    """`demucs.apply.apply_model(split=True)`, with given shift offsets (empty: no shifts)."""

    def padded(tensor: torch.Tensor, offset: int, length: int, target: int) -> torch.Tensor:
        delta = target - length
        start = offset - delta // 2
        end = start + target
        lo, hi = max(0, start), min(tensor.shape[-1], end)
        return F.pad(tensor[..., lo:hi], (lo - start, end - hi))

    def split(tensor: torch.Tensor) -> torch.Tensor:
        length = tensor.shape[-1]
        stride = int((1 - overlap) * segment)
        weight = torch.cat(
            [torch.arange(1, segment // 2 + 1), torch.arange(segment - segment // 2, 0, -1)]
        ).float()
        weight = weight / weight.max()
        out = sum_weight = None
        for offset in range(0, length, stride):
            chunk_length = min(segment, length - offset)
            chunk = padded(tensor, offset, chunk_length, segment)
            y = model(chunk[None])[0]
            lead = (segment - chunk_length) // 2
            y = y[..., lead : lead + chunk_length]
            if out is None:
                out = torch.zeros(y.shape[0], tensor.shape[0], length)
                sum_weight = torch.zeros(length)
            assert sum_weight is not None
            out[..., offset : offset + segment] += weight[:chunk_length] * y
            sum_weight[offset : offset + segment] += weight[:chunk_length]
        assert out is not None and sum_weight is not None
        return out / sum_weight

    if not offsets:
        return split(mix)
    length = mix.shape[-1]
    padded_mix = F.pad(mix, (max_shift, max_shift))
    total = torch.zeros(0)
    for shift in offsets:
        shifted = padded_mix[..., shift : shift + length + max_shift - shift]
        res = split(shifted)[..., max_shift - shift :]
        total = res if total.numel() == 0 else total + res
    return total / len(offsets)


def probe(chunk_size: int, **config: object) -> Separator:
    return Separator.from_spec(
        PROBE,
        {"chunk_size": chunk_size, "stems": ["a", "b"], "gains": [1.0, -0.5]},
        None,
        inference=InferenceConfig(**config),
        device="cpu",
    )


def audio(length: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(2, length, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("length", [5000, 1500, 700, 301, 40])
@pytest.mark.parametrize("num_overlap", [2, 3, 4])  # 1: MSST divides 0 by 0 at chunk starts
@pytest.mark.parametrize("batch_size", [1, 3])
def test_msst_layout_matches_demix(length: int, num_overlap: int, batch_size: int) -> None:
    chunk = 600
    sep = probe(
        chunk,
        chunk_layout="msst",
        window_shape="linear_fade",
        hop_size=chunk // num_overlap,
        batch_size=batch_size,
    )
    mix = audio(length, seed=length)
    expected = msst_demix(sep.model, mix, chunk, num_overlap)
    got = sep.separate(mix, sample_rate=44100)
    torch.testing.assert_close(got["a"], expected[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(got["b"], expected[1], atol=1e-5, rtol=0)


@pytest.mark.parametrize("length", [5000, 1500, 777, 40])
@pytest.mark.parametrize("step", [300, 450, 600])  # UVR's default: chunk - n_fft
@pytest.mark.parametrize("batch_size", [1, 3])
def test_uvr_layout_matches_mdx_demix(length: int, step: int, batch_size: int) -> None:
    chunk, trim = 600, 64
    sep = probe(
        chunk,
        chunk_layout="uvr",
        window_shape="hann" if step < chunk else "rectangular",
        edge_padding=trim,
        padding_mode="constant",
        hop_size=step,
        batch_size=batch_size,
    )
    mix = audio(length, seed=length)
    expected = uvr_demix(sep.model, mix, chunk, trim, step)
    got = sep.separate(mix, sample_rate=44100)
    # the probe's output is tiny near the padded ends, where UVR's window is 0 and ours floored
    torch.testing.assert_close(got["a"], expected[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(got["b"], expected[1], atol=1e-5, rtol=0)


@pytest.mark.parametrize("length", [5000, 1999, 512, 77])
@pytest.mark.parametrize("overlap", [0.25, 0.5])
@pytest.mark.parametrize("offsets", [[], [0, 37], [120, 5, 61]])
def test_demucs_layout_matches_apply_model(length: int, overlap: float, offsets: list[int]) -> None:
    segment, max_shift = 512, 128
    sep = probe(
        segment,
        chunk_layout="centered_tail",
        window_shape="triangular",
        overlap_ratio=overlap,
        shift_offsets=tuple(offsets) if offsets else None,
        max_shift=max_shift / 44100,
        batch_size=2,
    )
    mix = audio(length, seed=length + len(offsets))
    expected = demucs_apply(sep.model, mix, segment, overlap, offsets, max_shift)
    got = sep.separate(mix, sample_rate=44100)
    torch.testing.assert_close(got["a"], expected[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(got["b"], expected[1], atol=1e-5, rtol=0)


def test_seeded_shifts_draw_like_demucs() -> None:
    from splifft_core.engine import shift_offsets

    config = InferenceConfig(shifts=3, shift_seed=7, max_shift=0.5)
    rng = random.Random(7)
    assert shift_offsets(config, 44100) == [rng.randint(0, 22050) for _ in range(3)]
