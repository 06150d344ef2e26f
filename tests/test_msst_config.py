"""MSST's inference conventions map onto ours exactly."""

from __future__ import annotations

import pytest

from splifft_core.config import InferenceConfig
from splifft_core.errors import MsstConfigError
from splifft_core.msst_config import inference_settings, section, target_stems


@pytest.mark.parametrize("chunk", [261120, 352800, 485100, 131584])
@pytest.mark.parametrize("num_overlap", [1, 2, 3, 4, 8])
def test_hop_is_msst_step(chunk: int, num_overlap: int) -> None:
    settings = inference_settings({"num_overlap": num_overlap}, chunk)
    config = InferenceConfig(**{k: v for k, v in settings.items() if v is not None})
    assert config.hop_size(chunk) == chunk // num_overlap  # MSST: step = chunk_size // N
    assert config.chunk_layout == "msst" and config.window_shape == "linear_fade"


def test_sections_and_stems() -> None:
    with pytest.raises(MsstConfigError, match=r"unknown key\(s\) audio.bogus"):
        section({"audio": {"bogus": 1}}, "audio", frozenset({"chunk_size"}))
    assert target_stems({"training": {"instruments": ["a", "b"], "target_instrument": "b"}}) == [
        "b"
    ]
    assert target_stems({"training": {"instruments": ["a", "b"]}}) == ["a", "b"]
    with pytest.raises(MsstConfigError, match="num_overlap"):
        inference_settings({"num_overlap": 0})
