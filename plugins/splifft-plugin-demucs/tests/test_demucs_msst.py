"""MSST `htdemucs` yaml configs map onto our params; unknown keys are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from splifft_plugin_demucs.msst import import_msst
from splifft_plugin_demucs.params import HTDemucsParams

from splifft_core.errors import MsstConfigError
from splifft_core.msst import load_msst_yaml

VOCALS = Path(__file__).parent / "fixtures" / "msst_vocals_htdemucs.yaml"


def vocals_config() -> dict[str, Any]:
    """The shape of MSST's `configs/config_vocals_htdemucs.yaml`, as the core reads it."""
    return load_msst_yaml(VOCALS)


def test_demucs_msst_import_vocals() -> None:
    result = import_msst(vocals_config())
    params = HTDemucsParams.model_validate(result["params"])
    assert params.output_stem_names == ("vocals", "other")
    assert params.bottom_channels == 512 and params.dconv_init == pytest.approx(1e-3)
    assert params.use_train_segment is False  # MSST's HTDemucs default
    assert params.chunk_size == 485100
    assert result["inference"] == {
        "chunk_size": 485100,
        "overlap_ratio": 0.5,
        "batch_size": 8,
        "hop_size": 242550,
        "chunk_layout": "centered_tail",
        "window_shape": "rectangular",
        "padding_mode": "constant",
    }


def test_demucs_msst_import_refuses_unknown_keys() -> None:
    config = vocals_config()
    config["htdemucs"]["mystery_option"] = 3
    with pytest.raises(MsstConfigError, match="mystery_option"):
        import_msst(config)
    config = vocals_config()
    config["inference"]["dim_t"] = 801
    with pytest.raises(MsstConfigError, match="dim_t"):
        import_msst(config)


def test_demucs_msst_import_refuses_missing_and_unsupported() -> None:
    config = vocals_config()
    del config["training"]["instruments"]
    with pytest.raises(MsstConfigError, match=r"training\.instruments"):
        import_msst(config)
    config = vocals_config()
    del config["htdemucs"]
    with pytest.raises(MsstConfigError, match="'htdemucs' section"):
        import_msst(config)
    config = vocals_config()
    config["htdemucs"]["cac"] = False
    with pytest.raises(MsstConfigError, match="cac=False"):
        import_msst(config)
    config = vocals_config()
    config["model"] = "hdemucs"
    with pytest.raises(MsstConfigError, match="hdemucs"):
        import_msst(config)
