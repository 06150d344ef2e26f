"""Test-time augmentation (`--tta`) through the whole engine vs MSST's `apply_tta`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from splifft_plugin_roformer import BS_ROFORMER

from splifft_core.config import InferenceConfig
from splifft_core.separator import Separator
from splifft_core.testing import with_float64_network

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_golden(path: Path) -> dict[str, Any]:
    """A `roformer_*.pt` fixture with its packed state dict unpacked (as the reference tests)."""
    raw: dict[str, Any] = torch.load(path, weights_only=True)
    values: torch.Tensor = raw["values"]
    state_dict: dict[str, torch.Tensor] = {}
    offset = 0
    for key, shape in zip(raw["keys"], raw["shapes"], strict=True):
        size = math.prod(shape)
        state_dict[key] = values[offset : offset + size].reshape(shape)
        offset += size
    state_dict.update(raw["rotary"])
    raw["state_dict"] = state_dict
    return raw


def _demix_input(seconds: int, rate: int) -> torch.Tensor:
    """The generator's deterministic stereo test signal (`make_roformer_goldens.demix_input`)."""
    t = np.arange(seconds * rate, dtype=np.float64) / rate
    left = 0.3 * np.sin(2 * np.pi * 220.0 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    left += 0.2 * np.sin(2 * np.pi * 1234.5 * t + 0.3) + 0.1 * np.sin(2 * np.pi * 7000.0 * t**1.1)
    right = 0.25 * np.sin(2 * np.pi * 330.0 * t + 1.0) + 0.15 * np.sign(np.sin(2 * np.pi * 3 * t))
    return torch.from_numpy(np.stack([left, right]).astype(np.float32))


def _separator(golden: dict[str, object], weights: dict[str, object], tta: bool) -> Separator:
    chunk = int(golden["chunk_size"])  # type: ignore[call-overload]
    inference = InferenceConfig(
        chunk_size=chunk,
        hop_size_override=chunk // int(golden["num_overlap"]),  # type: ignore[call-overload]
        batch_size=2,
        window_shape="linear_fade",
        fade_size=chunk // 10,
        padding_mode="reflect",
        chunk_layout="msst",
        tta=tta,
    )
    separator = Separator.from_spec(
        BS_ROFORMER,
        weights["params"],  # type: ignore[arg-type]
        weights["state_dict"],  # type: ignore[arg-type]
        inference=inference,
        device="cpu",
    )
    assert golden["network_dtype"] == "float64"  # the reference ran the network in float64
    return with_float64_network(separator)


def test_tta_matches_msst_apply_tta() -> None:
    """8 s stereo (many chunks): our `tta=True` run equals MSST's channel-swap + polarity TTA."""
    golden = torch.load(FIXTURES / "roformer_demix_tta.pt", weights_only=True)
    weights = load_golden(FIXTURES / golden["weights"])
    stems = weights["params"]["output_stem_names"]
    mix = _demix_input(20, 44100)[:, : golden["length"]]
    out = _separator(golden, weights, tta=True).separate(mix, sample_rate=44100)
    result = torch.stack([out[s] for s in stems])
    stride, edge = golden["stride"], golden["edge"]
    scale = float(golden["strided"].abs().max())
    assert scale > 0.1
    assert (result[..., ::stride] - golden["strided"]).abs().max().item() <= 1e-4 * scale
    assert (result[..., :edge] - golden["head"]).abs().max().item() <= 1e-4 * scale
    assert (result[..., -edge:] - golden["tail"]).abs().max().item() <= 1e-4 * scale

    # and TTA is not a no-op: the plain run is far from it
    plain = _separator(golden, weights, tta=False).separate(mix, sample_rate=44100)
    plain_result = torch.stack([plain[s] for s in stems])
    assert float(np.abs((plain_result - result).numpy()).max()) > 100 * 1e-4 * scale
