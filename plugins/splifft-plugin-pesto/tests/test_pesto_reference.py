"""PESTO against the reference package's own output (`pesto-pitch==2.0.1`).

Goldens: `fixtures/make_pesto_goldens.py` (its docstring has the side-venv command) ran
`pesto.predict(x, 16000, step_size=10., model_name="mir-1k_g7")` and, for `mir-1k` (which
2.0.1's `predict` cannot run), pesto's own modules, on `signal()`: 10 s of a vocal-like tone
with vibrato and glides, silence at both ends and in the middle.

The real weights, `pesto/weights/*.ckpt` of pesto-pitch 2.0.1's wheel, come through
`tests.real_weights` (`pip download`, cached per machine; offline, those tests skip).

Checked: our activations, frequency (cents) and confidence against the reference, on the
whole signal in one network call and through the engine's chunk rule (reproduced in numpy,
and through `splifft_core.engine.stitch_frames`) with chunks of 2–4 s (seven chunks).
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from splifft_plugin_pesto.checkpoint import load_checkpoint
from splifft_plugin_pesto.decode import decode
from splifft_plugin_pesto.network import build
from splifft_plugin_pesto.params import PestoParams

from tests.real_weights import package_file

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDENS = FIXTURES / "pesto_goldens.npz"
REGISTRY = Path(__file__).resolve().parents[3] / "registry"

MODELS = {
    "mir-1k_g7": ("pesto-riou-mir1k_g7", 32000),
    "mir-1k": ("pesto-riou-mir1k", 64000),
}
"""Reference model name → (our manifest, the chunk size of the chunked checks)."""

CENTS = 1.0
CONFIDENCE = 1e-3
ACTIVATIONS = 1e-4


def _generator() -> object:
    spec = importlib.util.spec_from_file_location(
        "make_pesto_goldens", FIXTURES / "make_pesto_goldens.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def signal() -> np.ndarray:
    out = np.asarray(_generator().signal(), dtype=np.float32)  # type: ignore[attr-defined]
    return out


def manifest(model: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((REGISTRY / f"{MODELS[model][0]}.json").read_text())
    return data


def params(model: str, **override: object) -> PestoParams:
    raw = dict(manifest(model)["params"])  # type: ignore[call-overload]
    raw.update(override)
    return PestoParams.model_validate(raw)


def golden(model: str) -> dict[str, np.ndarray]:
    with np.load(GOLDENS) as data:
        return {
            f: data[f"{model}_{f}"] for f in ("frequency", "confidence", "argmax", "activations")
        }


@cache
def network(model: str, chunk_size: int | None = None) -> torch.nn.Module:
    resource = manifest(model)["resources"][0]  # type: ignore[index]
    path = package_file(
        resource["distribution"], resource["version"], resource["member"], resource["sha256"]
    )
    p = params(model) if chunk_size is None else params(model, chunk_size=chunk_size)
    net = build(p)
    load_checkpoint(net, p, [path])
    return net


def run_whole(model: str) -> dict[str, np.ndarray]:
    x = torch.from_numpy(signal())[None, None]
    with torch.inference_mode():
        out = network(model)(x)
    return {k: v[0].numpy() for k, v in out.items()}


def run_chunked(model: str) -> dict[str, np.ndarray]:
    """The engine's rule in numpy: `lead_padding` (= border·hop) zeros before the track, zeros
    after; chunk i reads `[i·chunk_hop − lead, … + chunk_size)`, keeps frames
    `[border, F − border)`; concatenated and cut to `n // hop + 1` frames."""
    p = params(model, chunk_size=MODELS[model][1])
    net = network(model, p.chunk_size)
    x = signal()
    lead = p.chunk_border * p.frame_hop
    frames = len(x) // p.frame_hop + 1
    kept = p.chunk_hop // p.frame_hop
    chunks = max(-(-frames // kept), -(-(len(x) + lead) // p.chunk_hop))
    assert chunks >= 5
    padded = np.zeros(lead + chunks * p.chunk_hop + p.chunk_size, dtype=np.float32)
    padded[lead : lead + len(x)] = x
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(chunks):
        chunk = torch.from_numpy(padded[i * p.chunk_hop : i * p.chunk_hop + p.chunk_size].copy())
        with torch.inference_mode():
            out = net(chunk[None, None])
        for name, value in out.items():
            f = value.shape[1]
            parts.setdefault(name, []).append(value[0, p.chunk_border : f - p.chunk_border].numpy())
    return {name: np.concatenate(v)[:frames] for name, v in parts.items()}


def cents(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    ratio = ours.astype(np.float64) / theirs.astype(np.float64)
    out: np.ndarray = np.abs(1200 * np.log2(ratio))
    return out


def check(model: str, out: dict[str, np.ndarray]) -> tuple[float, float, float]:
    ref = golden(model)
    p = params(model)
    acts = out["activations"]
    assert acts.shape == (len(ref["frequency"]), p.output_dim)
    act_err = float(np.abs(acts - ref["activations"]).max())
    assert act_err <= ACTIVATIONS
    track = decode(out, p)
    cent_err = float(cents(track.frequency, ref["frequency"]).max())
    conf_err = float(np.abs(track.confidence - ref["confidence"]).max())
    assert cent_err <= CENTS
    assert conf_err <= CONFIDENCE
    np.testing.assert_allclose(track.time, np.arange(len(acts)) * 0.01, atol=1e-9)
    return act_err, cent_err, conf_err


def test_goldens_cover_the_signal() -> None:
    for model in MODELS:
        ref = golden(model)
        assert len(ref["frequency"]) == len(signal()) // 160 + 1 == 1001
        voiced = ref["confidence"] > 0.5
        assert 300 < voiced.sum() < 1001


@pytest.mark.parametrize("model", list(MODELS))
def test_whole_signal_matches_reference(model: str) -> None:
    errors = check(model, run_whole(model))
    print(model, "whole: activations {:.2e}, cents {:.4f}, confidence {:.2e}".format(*errors))


@pytest.mark.parametrize("model", list(MODELS))
def test_chunked_matches_reference(model: str) -> None:
    errors = check(model, run_chunked(model))
    print(model, "chunked: activations {:.2e}, cents {:.4f}, confidence {:.2e}".format(*errors))


@pytest.mark.parametrize("model", list(MODELS))
def test_engine_stitch_frames_matches_reference(model: str) -> None:
    engine = pytest.importorskip("splifft_core.engine")
    p = params(model, chunk_size=MODELS[model][1])
    source = engine.TensorSource(torch.from_numpy(signal())[None])
    out = engine.stitch_frames(
        network(model, p.chunk_size), source, p, batch_size=3, device=torch.device("cpu")
    )
    check(model, out)


def test_g7_checkpoint_reads_without_omegaconf() -> None:
    import sys

    from splifft_plugin_pesto.checkpoint import read_pesto_checkpoint

    resource = manifest("mir-1k_g7")["resources"][0]  # type: ignore[index]
    path = package_file(
        resource["distribution"], resource["version"], resource["member"], resource["sha256"]
    )
    with pytest.raises(Exception, match=r"pickled code|refused|weights_only|Unsupported"):
        torch.load(path, map_location="cpu", weights_only=True)
    state = read_pesto_checkpoint(path)
    assert "omegaconf" not in sys.modules
    assert abs(float(state["shift"]) - 6.678) < 1e-3
    assert state["encoder.fc.weight"].shape == (1, 1, 1040)


def test_voiced_track_edges_match_reference() -> None:
    """A track voiced at both ends (the CQT kernels of its first and last frames reach past
    it, where PESTO mirrors the track): the engine's reflected edges give PESTO's frames."""
    engine = pytest.importorskip("splifft_core.engine")
    model = "mir-1k_g7"
    p = params(model, chunk_size=MODELS[model][1])
    x = _generator().signal_on_the_edges()  # type: ignore[attr-defined]
    with np.load(GOLDENS) as data:
        ref = {f: data[f"edges_{model}_{f}"] for f in ("frequency", "confidence", "activations")}
    out = engine.stitch_frames(
        network(model, p.chunk_size),
        engine.TensorSource(torch.from_numpy(np.asarray(x, np.float32))[None]),
        p,
        batch_size=2,
        device=torch.device("cpu"),
    )
    assert out["activations"].shape == ref["activations"].shape
    assert float(np.abs(out["activations"] - ref["activations"]).max()) <= ACTIVATIONS
    track = decode(out, p)
    assert float(cents(track.frequency, ref["frequency"]).max()) <= CENTS
    assert float(np.abs(track.confidence - ref["confidence"]).max()) <= CONFIDENCE
    assert ref["confidence"][:5].min() > 0.5  # voiced from the first frame on
