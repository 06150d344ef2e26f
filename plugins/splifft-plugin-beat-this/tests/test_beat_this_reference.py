"""The network and the decoder against the reference package's own outputs (`beat-this==1.1.0`,
random perturbed weights; see fixtures/make_beat_this_fixtures.py).

Two ways through a track:

- the reference's: the whole track's centred log-mel spectrogram cut into chunks of spectrogram
  frames (`split_piece`, zero frames at the piece's edges, the last chunk moved to end at the
  piece's end, keep_first), reproduced here around our `forward_spect`; it matches everywhere;
- the engine's audio-chunk rule (`splifft_core.engine.stitch_frames`, reproduced here in numpy):
  chunks of `chunk_size` samples every `chunk_hop` after `lead_padding` zeros. It matches the
  reference exactly where the reference's chunks are the engine's (frame counts a multiple of
  `chunk_frames - 2 * chunk_border`) and the track's first and last `n_fft` samples are silent
  (track `a`); otherwise the first chunk sees zero padding where the reference reflects, and
  the reference's last chunk ends at the track's end where the engine's runs on (track `b`):
  measured in `test_engine_rule_differences_at_track_edges`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from splifft_plugin_beat_this.checkpoint import load_checkpoint
from splifft_plugin_beat_this.decode import decode
from splifft_plugin_beat_this.network import BeatThisNetwork, build
from splifft_plugin_beat_this.params import BeatThisParams

from splifft_core.analysis import Beats, beats_tsv

FIXTURES = Path(__file__).parent / "fixtures"
TOL = 1e-4


def tiny_params(chunk_frames: int = 1500) -> BeatThisParams:
    weights = np.load(FIXTURES / "beat_this_weights.npz")
    config = json.loads(str(weights["__config__"]))
    return BeatThisParams(
        chunk_size=(chunk_frames - 1) * 441 + 1024,
        spect_dim=config["spect_dim"],
        transformer_dim=config["transformer_dim"],
        ff_mult=config["ff_mult"],
        n_layers=config["n_layers"],
        head_dim=config["head_dim"],
        stem_dim=config["stem_dim"],
        sum_head=config["sum_head"],
        partial_transformers=config["partial_transformers"],
    )


def reference_state() -> dict[str, torch.Tensor]:
    weights = np.load(FIXTURES / "beat_this_weights.npz")
    return {k: torch.from_numpy(weights[k]) for k in weights.files if k != "__config__"}


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    data = np.load(FIXTURES / "beat_this_reference.npz")
    return {k: data[k] for k in data.files}


def network(chunk_frames: int = 1500) -> BeatThisNetwork:
    net = build(tiny_params(chunk_frames))
    net.load_state_dict(reference_state(), strict=True)  # the reference's keys, unchanged
    return net


def audio_of(golden: dict[str, np.ndarray], name: str) -> np.ndarray:
    return golden[f"{name}_audio"].astype(np.float32) / 32768.0


def reference_chunking(
    run: Callable[[torch.Tensor], dict[str, torch.Tensor]], spect: torch.Tensor, size: int
) -> dict[str, np.ndarray]:
    """beat_this.inference.split_predict_aggregate(border 6, keep_first), reimplemented."""
    border, n = 6, len(spect)
    starts = list(range(-border, n - border, size - 2 * border))
    if n > size - 2 * border:
        starts[-1] = n - (size - border)
    out = {k: np.full(n, -1000.0, dtype=np.float32) for k in ("beat", "downbeat")}
    for start in reversed(starts):
        chunk = spect[max(start, 0) : min(start + size, n)]
        left, right = max(0, -start), max(0, min(border, start + size - n))
        chunk = torch.nn.functional.pad(chunk, (0, 0, left, right))
        pred = run(chunk[None])
        for k in out:
            out[k][start + border : start + size - border] = pred[k][0, border:-border].numpy()
    return out


def engine_rule(net: BeatThisNetwork, audio: np.ndarray) -> dict[str, np.ndarray]:
    """The core's frame-stitching rule for analysis models, in numpy."""
    p = net.params
    frames = p.frame_count(len(audio))
    kept = p.chunk_frames - 2 * p.chunk_border
    chunks = -(-frames // kept)
    padded = np.zeros(p.lead_padding + chunks * p.chunk_hop + p.chunk_size, dtype=np.float32)
    padded[p.lead_padding : p.lead_padding + len(audio)] = audio
    parts: dict[str, list[np.ndarray]] = {k: [] for k in p.output_names}
    with torch.inference_mode():
        for i in range(chunks):
            chunk = torch.from_numpy(padded[i * p.chunk_hop : i * p.chunk_hop + p.chunk_size])
            out = net(chunk[None, None])
            for k in parts:
                f = out[k].shape[1]
                assert f == p.chunk_frames
                parts[k].append(out[k][0, p.chunk_border : f - p.chunk_border].numpy())
    return {k: np.concatenate(v)[:frames] for k, v in parts.items()}


def test_params_express_the_reference_chunks() -> None:
    p = BeatThisParams()
    assert (p.chunk_frames, p.chunk_border, p.frame_hop, p.fps) == (1500, 6, 441, 50.0)
    assert p.chunk_hop == 1488 * 441 and p.lead_padding == 6 * 441 + 512
    assert p.frame_count(661500) == 1501


@pytest.mark.parametrize("size", [1500, 384])
@pytest.mark.parametrize("name", ["a", "b"])
def test_logits_reference_chunking(golden: dict[str, np.ndarray], name: str, size: int) -> None:
    net = network()
    spect = net.spect(torch.from_numpy(audio_of(golden, name)), center=True)
    with torch.inference_mode():
        ours = reference_chunking(net.forward_spect, spect, size)
    for k in ("beat", "downbeat"):
        theirs = golden[f"{name}_{size}_{k}"]
        assert ours[k].shape == theirs.shape
        np.testing.assert_allclose(ours[k], theirs, atol=TOL, rtol=0)


@pytest.mark.parametrize("size", [1500, 384])
def test_logits_engine_rule_exact(golden: dict[str, np.ndarray], size: int) -> None:
    """Track a: 2976 frames (2 chunks of 1500, 8 of 384), silent edges: the engine's chunks are
    the reference's and every frame matches."""
    net = network(size)
    ours = engine_rule(net, audio_of(golden, "a"))
    for k in ("beat", "downbeat"):
        theirs = golden[f"a_{size}_{k}"]
        assert ours[k].shape == theirs.shape == (2976,)
        np.testing.assert_allclose(ours[k], theirs, atol=TOL, rtol=0)
    beats = decode(ours, net.params)
    np.testing.assert_array_equal(beats.beats, golden[f"a_{size}_beats"])
    np.testing.assert_array_equal(beats.downbeats, golden[f"a_{size}_downbeats"])


@pytest.mark.parametrize("size", [1500, 384])
def test_engine_rule_differences_at_track_edges(golden: dict[str, np.ndarray], size: int) -> None:
    """Track b (30 s, 1501 frames; a click at sample 0 and one cut off at the end) through the
    engine's rule, against the reference's `split_predict_aggregate`:

    - the chunks in between are the reference's: exact (384: frames 372-1487);
    - the first chunk sees zeros where the reference reflects the track's first 512 samples
      (frames 0, 1) and has zero features (frame -1): frames 0-9 differ by up to 0.6 in the
      logits, the rest of that chunk by up to 1e-3 (1500) / 3e-3 (384), through attention;
    - the reference moves its last chunk back to end at the track's end; the engine's runs on
      into zeros: the frames the reference takes from it (1488-1500) differ by up to 0.3.

    Measured with these random weights; printed with `-s`."""
    net = network(size)
    ours = engine_rule(net, audio_of(golden, "b"))
    kept = size - 12
    for k in ("beat", "downbeat"):
        d = np.abs(ours[k] - golden[f"b_{size}_{k}"])
        print(
            f"track b, chunk {size}, {k}: frames 0-9 {d[:10].max():.1e}, 10-{kept - 1} "
            f"{d[10:kept].max():.1e}, {kept}-1487 {np.max(d[kept:1488], initial=0.0):.1e}, "
            f"1488-1500 {d[1488:].max():.1e}"
        )
        assert d[:10].max() < 1.0
        assert d[10:kept].max() < 1e-2
        if kept < 1488:
            assert d[kept:1488].max() < TOL
        assert d[1488:].max() < 1.0


@pytest.mark.parametrize("size", [1500, 384])
@pytest.mark.parametrize("name", ["a", "b"])
def test_decoder_matches_postprocessor(golden: dict[str, np.ndarray], name: str, size: int) -> None:
    acts = {k: golden[f"{name}_{size}_{k}"] for k in ("beat", "downbeat")}
    result = decode(acts, tiny_params(size))
    assert isinstance(result, Beats)
    assert len(result.beats) > 10 and len(result.downbeats) > 2
    np.testing.assert_array_equal(result.beats, golden[f"{name}_{size}_beats"])
    np.testing.assert_array_equal(result.downbeats, golden[f"{name}_{size}_downbeats"])


@pytest.mark.parametrize("name", ["a", "b"])
def test_beats_tsv_matches_save_beat_tsv(golden: dict[str, np.ndarray], name: str) -> None:
    result = Beats(beats=golden[f"{name}_1500_beats"], downbeats=golden[f"{name}_1500_downbeats"])
    expected = (FIXTURES / f"beat_this_reference_{name}.beats").read_text()
    assert beats_tsv(result) == expected


def test_lightning_checkpoint_loads(tmp_path: Path) -> None:
    state = reference_state()
    ckpt = {
        "epoch": 3,
        "hyper_parameters": {"transformer_dim": 64, "dropout": {"frontend": 0.1}},
        "state_dict": {f"model.{k}": v for k, v in state.items()},
    }
    path = tmp_path / "beat_this-tiny.ckpt"
    torch.save(ckpt, path)
    net = build(tiny_params())
    load_checkpoint(net, net.params, [path])
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)


@pytest.mark.parametrize("size", [1500, 384])
@pytest.mark.parametrize("name", ["a", "b"])
def test_core_stitch_frames_is_the_engine_rule(
    golden: dict[str, np.ndarray], name: str, size: int
) -> None:
    """`splifft_core.engine.stitch_frames` (batched) computes what `engine_rule` spells out."""
    from splifft_core.engine import TensorSource, stitch_frames

    net = network(size)
    audio = audio_of(golden, name)
    expected = engine_rule(net, audio)
    ours = stitch_frames(
        net,
        TensorSource(torch.from_numpy(audio[None])),
        net.params,
        batch_size=3,
        device=torch.device("cpu"),
    )
    for k in ("beat", "downbeat"):
        assert ours[k].shape == expected[k].shape
        np.testing.assert_allclose(ours[k], expected[k], atol=1e-5, rtol=0)
