"""Our HDemucs (demucs v3) against `demucs.hdemucs.HDemucs` outputs (random weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from splifft_plugin_demucs import HDEMUCS_SPEC
from splifft_plugin_demucs.hdemucs import HDemucs, build_model
from splifft_plugin_demucs.msst import import_msst_hdemucs
from splifft_plugin_demucs.params import HDemucsParams

from splifft_core.errors import MsstConfigError
from splifft_core.msst import load_msst_yaml
from splifft_core.testing import check_architecture, check_stem_selection

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = torch.load(FIXTURES / "demucs_hdemucs.pt", weights_only=True)[name]
    return data


@pytest.mark.parametrize("name", ["lstm_attn_old", "spectral_only"])
def test_demucs_hdemucs_forward_matches_reference(name: str) -> None:
    """BiLSTM (framed past 200 steps) and local attention in the residual branches, the MDX
    2021 `hybrid_old` padding, GroupNorm layers, and a spectrogram-only model; any length."""
    data = load(name)
    params = HDemucsParams(**data["kwargs"])
    model = build_model(params)
    assert isinstance(model, HDemucs)
    model.load_state_dict(data["state"], strict=True)
    with torch.inference_mode():
        out = model.eval()(data["input"])
        odd = model(data["odd_input"])
    torch.testing.assert_close(out, data["output"], atol=1e-4, rtol=0)
    torch.testing.assert_close(odd, data["odd_output"], atol=1e-4, rtol=0)


def test_demucs_hdemucs_contract_kit() -> None:
    check_architecture(HDEMUCS_SPEC, load("spectral_only")["kwargs"])


def test_demucs_hdemucs_stem_selection() -> None:
    """One model computes every source: the selection keeps the asked ones, saving nothing."""
    check_stem_selection(HDEMUCS_SPEC, load("spectral_only")["kwargs"], ["other"], saves=None)


def drumsep_config() -> dict[str, Any]:
    """The shape of MSST's `configs/config_drumsep.yaml` (an `hdemucs` model)."""
    return load_msst_yaml(FIXTURES / "msst_drumsep_hdemucs.yaml")


def test_demucs_hdemucs_msst_import() -> None:
    result = import_msst_hdemucs(drumsep_config())
    params = HDemucsParams.model_validate(result["params"])
    assert params.output_stem_names == ("kick", "snare", "cymbals", "toms")
    assert params.depth == 6 and params.dconv_lstm == 4
    assert result["inference"]["chunk_size"] == 1764000
    assert result["inference"]["hop_size"] == 441000
    assert result["inference"]["chunk_layout"] == "msst"
    config = drumsep_config()
    config["hdemucs"]["dconv_mystery"] = 1
    with pytest.raises(MsstConfigError, match="dconv_mystery"):
        import_msst_hdemucs(config)
