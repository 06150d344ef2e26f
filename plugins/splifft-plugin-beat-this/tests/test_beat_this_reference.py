"""The network and the decoder against the reference package's own outputs (`beat-this==1.1.0`,
random perturbed weights; see fixtures/make_beat_this_fixtures.py).

Two ways through a track, both equal to the reference's frame logits:

- the reference's: the whole track's centred log-mel spectrogram cut into chunks of spectrogram
  frames (`split_piece`, zero frames at the piece's edges, the last chunk moved to end at the
  piece's end, keep_first), reproduced here around our `forward_spect`;
- the core's: `splifft_core.engine.stitch_frames` on audio chunks, the track mirrored beyond its
  ends (`edge_padding`), the network told where each chunk lies (`frame_positions`: zero
  features outside the track, a chunk ending `chunk_border` frames past it), the last chunk
  end-aligned (`last_chunk`). Track `a` has silent edges and a whole number of chunks; track `b`
  starts on a click and ends mid-click, so its edges are tested too.
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
def test_core_engine_equals_the_reference_everywhere(
    golden: dict[str, np.ndarray], name: str, size: int
) -> None:
    """Through `stitch_frames` with the chunks' positions (reflected edges, zero features
    outside the track, the last chunk end-aligned, a short track as a short sequence), every
    frame is the reference's, edges included, and so are the beats."""
    from splifft_plugin_beat_this.decode import decode

    from splifft_core.engine import TensorSource, stitch_frames

    net = network(size)
    audio = audio_of(golden, name)
    ours = stitch_frames(
        net,
        TensorSource(torch.from_numpy(audio[None])),
        net.params,
        batch_size=2,
        device=torch.device("cpu"),
    )
    for k in ("beat", "downbeat"):
        theirs = golden[f"{name}_{size}_{k}"]
        assert ours[k].shape == theirs.shape
        np.testing.assert_allclose(ours[k], theirs, atol=TOL, rtol=0)
    # Random weights give flat logits: peaks the two differ on (within 1e-4) must be ties of
    # the reference's own logits (a logit at the 0 threshold, or equal to a neighbour's).
    from splifft_plugin_beat_this.decode import peak_frames

    differing = 0
    for k in ("beat", "downbeat"):
        theirs = golden[f"{name}_{size}_{k}"]
        for f in set(peak_frames(ours[k])) ^ set(peak_frames(theirs)):
            near = np.abs(theirs[max(0, f - 3) : f + 4] - theirs[f])
            assert abs(theirs[f]) < 1e-3 or np.sort(near)[1] < 1e-3, (k, f, theirs[f])
            differing += 1
    if not differing:
        beats = decode(ours, net.params)
        np.testing.assert_array_equal(beats.beats, golden[f"{name}_{size}_beats"])
        np.testing.assert_array_equal(beats.downbeats, golden[f"{name}_{size}_downbeats"])
