"""PoPE roformers (MSST `use_pope: true`) against MSST's own classes with PoPE-pytorch 0.2.1.

The fixtures come from `fixtures/make_pope_goldens.py`: MSST's state dict, loaded here unchanged
and strict, so its key layout (`pope_embed.bias`, `pope_embed.inv_freqs`) is checked too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from pydantic import ValidationError
from splifft_plugin_roformer import BS_ROFORMER, BS_ROFORMER_HYPERACE, MEL_ROFORMER

from splifft_core.models import resolve
from splifft_core.testing import check_architecture

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN_FILES = sorted(FIXTURES.glob("pope_msst_*.pt"))
SPECS = {"bs_roformer": BS_ROFORMER, "mel_band_roformer": MEL_ROFORMER}


def _state_dict(golden: dict[str, Any]) -> dict[str, torch.Tensor]:
    sizes = [int(torch.Size(s).numel()) for s in golden["shapes"]]
    chunks = golden["values"].float().split(sizes)
    state = {
        k: c.reshape(s) for k, s, c in zip(golden["keys"], golden["shapes"], chunks, strict=True)
    }
    return {**state, **golden["exact"]}


def test_fixtures_exist() -> None:
    assert [p.stem for p in GOLDEN_FILES] == [
        "pope_msst_bs_stereo_2stem_linear_skip",
        "pope_msst_mel_mono_1stem_60bands",
    ]
    assert all(p.stat().st_size < 1_000_000 for p in GOLDEN_FILES)


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_matches_msst_pope(path: Path) -> None:
    golden: dict[str, Any] = torch.load(path, weights_only=True)
    spec = SPECS[golden["model_type"]]
    params = spec.parse_params(golden["params"])
    network = spec.build_model(params).eval()
    state = spec.transform_checkpoint(_state_dict(golden), params)
    assert any(k.endswith("pope_embed.bias") for k in state)
    network.load_state_dict(state, strict=True)
    audio = golden["input"].float()
    expected: torch.Tensor = golden["output"]
    assert audio.shape[-1] // params.stft_hop_length + 1 >= 100  # type: ignore[attr-defined]
    with torch.no_grad():
        out = network(audio)
    scale = float(expected.abs().max())
    error = float((out - expected).abs().max())
    print(f"{path.stem}: max abs error {error:.3g}, scale {scale:.3g}")
    assert out.shape == expected.shape
    assert error <= 1e-4 * scale, (error, scale)


TINY: dict[str, Any] = {
    "chunk_size": 4096,
    "output_stem_names": ["vocals", "other"],
    "dim": 8,
    "depth": 1,
    "stereo": True,
    "heads": 2,
    "dim_head": 4,
    "stft_n_fft": 256,
    "stft_hop_length": 64,
    "stft_win_length": 256,
    "use_pope": True,
}


def test_contract() -> None:
    check_architecture(BS_ROFORMER, {**TINY, "freqs_per_bands": [32, 32, 32, 32, 1]})
    check_architecture(MEL_ROFORMER, {**TINY, "num_bands": 8, "sample_rate": 16000})


def test_hyperace_rejects_pope() -> None:
    with pytest.raises(ValidationError, match="PoPE"):
        BS_ROFORMER_HYPERACE.parse_params(
            {**TINY, "freqs_per_bands": [32, 32, 32, 32, 1], "hyperace_version": 1}
        )


MSST_POPE = """
audio: {chunk_size: 264600, num_channels: 2, sample_rate: 44100}
model:
  dim: 128
  depth: 6
  stereo: true
  num_stems: 1
  num_bands: 60
  dim_head: 64
  heads: 8
  use_pope: true
training: {instruments: [vocals, other], target_instrument: vocals}
inference: {batch_size: 1, num_overlap: 2}
"""


def test_msst_import_pope() -> None:
    assert MEL_ROFORMER.msst_import is not None
    imported: dict[str, Any] = resolve(MEL_ROFORMER.msst_import)(yaml.safe_load(MSST_POPE))
    assert imported["params"]["use_pope"] is True
    params = MEL_ROFORMER.parse_params(imported["params"])
    assert params.use_pope  # type: ignore[attr-defined]
