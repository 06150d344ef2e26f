"""Whole tracks: our separator with the `msst` chunk layout against MSST's own `demix`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from splifft_plugin_mdx23c import SPEC
from splifft_plugin_mdx23c.msst import import_msst

from splifft_core.config import InferenceConfig
from splifft_core.separator import Separator

FIXTURES = Path(__file__).parent / "fixtures"
TOLERANCE = 1e-4


@pytest.mark.parametrize("batch_size", [1, 3])
def test_matches_msst_demix(batch_size: int) -> None:
    weights = torch.load(FIXTURES / "mdx23c_instancenorm_gelu.pt", weights_only=True)
    golden = torch.load(FIXTURES / "demix_mdx23c.pt", weights_only=True)
    imported = import_msst(golden["msst_config"])
    params = imported["params"]
    chunk_size = params["chunk_size"]
    # MSST: hop = chunk_size // num_overlap, linear fades of chunk_size // 10.
    inference = InferenceConfig(
        chunk_layout="msst",
        hop_size_override=chunk_size // golden["msst_config"]["inference"]["num_overlap"],
        window_shape="linear_fade",
        batch_size=batch_size,
    )
    separator = Separator.from_spec(SPEC, params, weights["state_dict"], inference=inference)
    for track, expected in zip(golden["tracks"], golden["outputs"], strict=True):
        stems = separator.separate(track, sample_rate=params["sample_rate"])
        ours = torch.stack([stems[name] for name in params["output_stem_names"]])
        assert ours.shape == expected.shape
        assert (ours - expected).abs().max().item() <= TOLERANCE
