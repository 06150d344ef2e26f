"""The chunked loop: chunk → model → window → overlap-add reconstructs, streams, derives stems."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from splifft_core.config import InferenceConfig
from splifft_core.engine import (
    TensorSource,
    make_window,
    plan_chunks,
    read_padded,
    source_indices,
    stitch_stream,
)
from splifft_core.separator import Separator
from tests.fake_plugins import identity

WINDOWS = ["hann", "hamming", "triangular", "linear_fade", "rectangular"]
PADDINGS = ["reflect", "constant", "replicate"]


def identity_separator(chunk_size: int, **config: Any) -> Separator:
    return Separator.from_spec(
        identity.IDENTITY,
        {"chunk_size": chunk_size},
        None,
        inference=InferenceConfig(**config),
        device="cpu",
    )


def random_audio(length: int, channels: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(channels, length, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5, 0.75])
def test_identity_reconstructs(window: str, padding: str, overlap: float) -> None:
    for chunk_size, batch_size, length in [(256, 1, 1000), (1000, 3, 4321), (333, 4, 2000)]:
        sep = identity_separator(
            chunk_size,
            overlap_ratio=overlap,
            window_shape=window,
            padding_mode=padding,
            batch_size=batch_size,
        )
        audio = random_audio(length, seed=chunk_size)
        out = sep.separate(audio, sample_rate=44100)["vocals"]
        assert out.shape == audio.shape
        assert (out - audio).abs().max().item() <= 1e-5


@pytest.mark.parametrize("length", [1, 2, 3, 100, 255, 256, 257])
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("batch_size", [1, 2, 4])
def test_identity_short_tracks(length: int, padding: str, batch_size: int) -> None:
    sep = identity_separator(256, overlap_ratio=0.5, padding_mode=padding, batch_size=batch_size)
    audio = random_audio(length, seed=length)
    out = sep.separate(audio, sample_rate=44100)["vocals"]
    assert out.shape == audio.shape
    assert (out - audio).abs().max().item() <= 1e-5


def test_identity_with_normalization_and_edge_padding() -> None:
    sep = identity_separator(512, overlap_ratio=0.5, normalize=True, edge_padding=700)
    audio = 0.3 + 2.0 * random_audio(3000)
    out = sep.separate(audio, sample_rate=44100)["vocals"]
    assert (out - audio).abs().max().item() <= 1e-5


@pytest.mark.parametrize("mode", PADDINGS)
@pytest.mark.parametrize("length", [1, 2, 5, 17])
def test_padding_matches_numpy(mode: str, length: int) -> None:
    """Index mapping equals numpy's pad, including pads longer than the track."""
    signal = np.arange(1, length + 1, dtype=np.float64)
    pad = 3 * length + 2
    np_mode = {"reflect": "reflect", "constant": "constant", "replicate": "edge"}[mode]
    if mode == "reflect" and length == 1:
        expected = np.full(length + 2 * pad, signal[0])
    else:
        expected = np.pad(signal, pad, mode=np_mode)  # type: ignore[call-overload]
    idx, inside = source_indices(np.arange(-pad, length + pad), length, mode)  # type: ignore[arg-type]
    got = signal[idx] * (inside if inside is not None else 1)
    np.testing.assert_array_equal(got, expected)
    tensor = torch.from_numpy(signal).float()[None]
    padded = read_padded(TensorSource(tensor), -pad, length + pad, mode)  # type: ignore[arg-type]
    np.testing.assert_allclose(padded[0].numpy(), expected)


def test_plan_covers_edges() -> None:
    for length, chunk, hop, edge in [(1, 10, 5, 5), (100, 32, 8, 24), (1000, 256, 256, 0)]:
        plan = plan_chunks(length, chunk, hop, edge)
        assert plan.pad_left == edge
        assert plan.pad_right >= edge
        assert plan.padded_length >= length + 2 * edge
        assert plan.padded_length - hop < length + 2 * edge or plan.num_chunks == 1


def test_windows_are_positive_and_shaped() -> None:
    hann = make_window("hann", 101)
    assert hann.shape == (101,) and hann.min() > 0
    assert torch.isclose(hann[50], torch.tensor(1.0))
    fade = make_window("linear_fade", 100, fade_size=10)
    assert fade[10:90].eq(1).all()
    assert torch.allclose(fade[:10], torch.linspace(0, 1, 10).clamp_min(1e-8))


def test_stream_tiles_track_once_and_stays_bounded() -> None:
    """Blocks arrive in order, cover every sample once, and are at most a batch of hops long."""
    sep = identity_separator(1000, overlap_ratio=0.75, batch_size=3)
    audio = random_audio(20_000)
    covered = 0
    lengths = []
    for offset, block in stitch_stream(
        sep.model,
        TensorSource(audio),
        sep.inference,
        chunk_size=1000,
        num_stems=1,
        device=torch.device("cpu"),
    ):
        assert offset == covered
        covered += block.shape[-1]
        lengths.append(block.shape[-1])
    assert covered == audio.shape[-1]
    hop = sep.inference.hop_size(1000)
    assert max(lengths) <= 3 * hop + 1000


def test_derived_stems_and_stem_subsets(plugin_host: Callable[..., object]) -> None:
    plugin_host(identity)
    import splifft

    sep = splifft.load("identity-test-gain", device="cpu")
    audio = random_audio(5000)
    stems = sep.separate(audio, sample_rate=44100)
    assert set(stems) == {"vocals", "drums", "instrum"}
    torch.testing.assert_close(stems["vocals"], 0.25 * audio, atol=1e-5, rtol=0)
    torch.testing.assert_close(stems["drums"], 0.5 * audio, atol=1e-5, rtol=0)
    torch.testing.assert_close(stems["instrum"], 0.75 * audio, atol=1e-5, rtol=0)

    only = splifft.load("identity-test-gain", device="cpu", stems=["instrum"])
    # the stem selection plan pruned the drums head: the model computes one stem
    assert only.model_stems == ("vocals",)
    out = only.separate(audio, sample_rate=44100)
    assert set(out) == {"instrum"}
    torch.testing.assert_close(out["instrum"], 0.75 * audio, atol=1e-5, rtol=0)


def test_resampled_tensor_keeps_rate_and_length() -> None:
    sep = identity_separator(2048, overlap_ratio=0.5)
    t = torch.arange(48000) / 48000
    audio = torch.stack(
        [torch.sin(2 * torch.pi * 440 * t), torch.sin(2 * torch.pi * 660 * t)]
    ).float()
    out = sep.separate(audio, sample_rate=48000)["vocals"]
    assert out.shape == audio.shape
    # a band-limited tone survives 48k → 44.1k → 48k almost unchanged away from the edges
    assert (out - audio)[:, 1000:-1000].abs().max().item() < 1e-3


def test_mono_input_on_stereo_model_gives_mono() -> None:
    sep = identity_separator(512)
    audio = random_audio(3000, channels=1)
    out = sep.separate(audio, sample_rate=44100)["vocals"]
    assert out.shape == (1, 3000)
    assert (out - audio).abs().max().item() <= 1e-5


def test_bfloat16_autocast_runs_on_cpu() -> None:
    sep = identity_separator(512, precision="bfloat16")
    audio = random_audio(2000)
    out = sep.separate(audio, sample_rate=44100)["vocals"]
    assert (out - audio).abs().max().item() < 1e-2


def test_allocator_tuning_is_idempotent_and_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    from splifft_core import allocator

    monkeypatch.setattr(allocator, "_done", None)
    monkeypatch.setenv("SPLIFFT_MALLOC_TUNING", "0")
    assert allocator.keep_freed_memory() is False
    monkeypatch.setattr(allocator, "_done", None)
    monkeypatch.setenv("SPLIFFT_MALLOC_TUNING", "1")
    first = allocator.keep_freed_memory()
    assert allocator.keep_freed_memory() is first
    if sys.platform == "linux":
        assert first is True  # glibc accepts both thresholds


_FAULTS_SCRIPT = """
import ctypes, resource
from splifft_core.allocator import keep_freed_memory
keep_freed_memory()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
size = 256 << 20
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(faults[-1])
"""


@pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc malloc only"
)
@pytest.mark.parametrize("tuning", ["0", "1"])
def test_allocator_tuning_reuses_large_blocks(tuning: str) -> None:
    """A freed 256 MiB block (above any mmap threshold `mallopt` can set) is reused, not
    faulted in again page by page (65 536 faults of 4 KiB) on the next chunk."""
    env = {**os.environ, "SPLIFFT_MALLOC_TUNING": tuning}
    run = subprocess.run(
        [sys.executable, "-c", _FAULTS_SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    faults = int(run.stdout.strip())
    pages = (256 << 20) // os.sysconf("SC_PAGESIZE")
    if tuning == "1":
        assert faults < pages // 100
    else:  # glibc's default: a fresh mmap every time
        assert faults > pages // 2
