"""PESTO's params, checkpoint reader and decoder, without the real weights."""

from __future__ import annotations

import fractions
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from splifft_plugin_pesto import SPEC
from splifft_plugin_pesto.checkpoint import load_checkpoint, read_pesto_checkpoint
from splifft_plugin_pesto.decode import decode, reduce_activations
from splifft_plugin_pesto.network import build
from splifft_plugin_pesto.params import PestoParams

from splifft_core.errors import CheckpointError

REGISTRY = Path(__file__).resolve().parents[3] / "registry"
MANIFESTS = ("pesto-riou-mir1k_g7", "pesto-riou-mir1k")


def _params(name: str) -> PestoParams:
    raw = json.loads((REGISTRY / f"{name}.json").read_text())["params"]
    return PestoParams.model_validate(raw)


def test_manifest_params_and_kernel_context() -> None:
    g7, m1k = (_params(name) for name in MANIFESTS)
    assert g7.kernel_widths() == (4096,) and g7.chunk_border == g7.min_chunk_border() == 13
    assert m1k.kernel_widths() == (32768,) and m1k.chunk_border == m1k.min_chunk_border() == 103
    assert g7.n_bins_in == 219 and m1k.n_bins_in == 264
    for p in (g7, m1k):
        assert p.chunk_hop == (p.chunk_size // p.frame_hop + 1 - 2 * p.chunk_border) * 160
    assert SPEC.name == "pesto"


def test_manifests_validate() -> None:
    manifest = pytest.importorskip("splifft_core.manifest")
    for name in MANIFESTS:
        raw = json.loads((REGISTRY / f"{name}.json").read_text())
        parsed = manifest.Manifest.model_validate(raw)
        assert parsed.identifier == name


def test_border_below_half_the_kernel_is_refused() -> None:
    with pytest.raises(ValidationError, match="chunk_border"):
        _params("pesto-riou-mir1k").model_validate(
            {**_params("pesto-riou-mir1k").model_dump(), "chunk_border": 50}
        )


def test_network_frames_and_shapes() -> None:
    p = _params("pesto-riou-mir1k_g7").model_copy(update={"chunk_size": 16000})
    net = build(p)
    with torch.inference_mode():
        out = net(torch.zeros(2, 1, 16000))
    assert out["activations"].shape == (2, 101, 384)
    assert out["confidence"].shape == (2, 101)


def _save(tmp_path: Path, payload: object) -> Path:
    path = tmp_path / "crafted.ckpt"
    torch.save(payload, path)
    return path


def test_loader_refuses_foreign_globals(tmp_path: Path) -> None:
    net = build(_params("pesto-riou-mir1k_g7"))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    path = _save(tmp_path, {"state_dict": state, "hparams": fractions.Fraction(1, 3)})
    with pytest.raises(CheckpointError, match=r"fractions\.Fraction"):
        load_checkpoint(net, net.params, [path])  # type: ignore[arg-type]


def test_loader_reads_its_own_state_dict(tmp_path: Path) -> None:
    p = _params("pesto-riou-mir1k_g7")
    net = build(p)
    state = {k: torch.randn_like(v) for k, v in net.state_dict().items()}
    path = _save(tmp_path, {"state_dict": state, "epoch": 3})
    assert read_pesto_checkpoint(path).keys() == state.keys()
    other = build(p)
    load_checkpoint(other, p, [path])
    for key, value in other.state_dict().items():
        assert torch.equal(value, state[key])


def test_alwa_reduction() -> None:
    acts = np.zeros((3, 384), dtype=np.float32)
    acts[0, 171] = 1.0  # 57 semitones · 3 bins
    acts[1, [170, 171, 172]] = [0.25, 0.5, 0.25]
    acts[2, [171, 172]] = [0.5, 0.5]
    midi = reduce_activations(acts)
    np.testing.assert_allclose(midi, [57.0, 57.0, 57 + 1 / 6], atol=1e-5)
    track = decode({"activations": acts, "confidence": np.ones(3)}, _params(MANIFESTS[0]))
    np.testing.assert_allclose(track.frequency[0], 220.0, rtol=1e-6)
    np.testing.assert_allclose(track.time, [0.0, 0.01, 0.02])
