"""`import_uvr`: UVR model data → our params."""

from __future__ import annotations

from pathlib import Path

import pytest
from splifft_plugin_vr import SPEC, VrParams
from splifft_plugin_vr.uvr import arch_size, import_uvr, uvr_table

from splifft_core.config import InferenceConfig
from splifft_core.errors import UvrModelDataError
from splifft_core.models import resolve
from splifft_core.uvr import uvr_secondary_stem, uvr_stem_name


def sized(tmp_path: Path, kib: int) -> Path:
    path = tmp_path / "model.pth"
    with path.open("wb") as handle:
        handle.truncate(kib * 1024)
    return path


def test_registered() -> None:
    assert resolve(SPEC.uvr_import or "") is import_uvr


def test_table_lookup_lstm(tmp_path: Path) -> None:
    out = import_uvr(sized(tmp_path, 56800), "6857b2972e1754913aad0c9a1678c753", None)
    params = VrParams.model_validate(out["params"])
    assert params.network == "cascaded_lstm"
    assert (params.nout, params.nout_lstm, params.band_layout) == (48, 128, "4band_v3")
    assert params.output_stem_names == ("no_echo", "echo")
    InferenceConfig.model_validate(out["inference"])


def test_table_lookup_aspp_by_size(tmp_path: Path) -> None:
    out = import_uvr(sized(tmp_path, 537300), "c4476ef424d8cba65f38d8d04e8514e2", None)
    params = VrParams.model_validate(out["params"])
    assert (params.network, params.arch_size, params.band_layout) == (
        "cascaded_aspp", 537238, "3band_44100_msb2",
    )  # fmt: skip
    assert params.output_stem_names == ("instrum", "vocals")


def test_user_model_data(tmp_path: Path) -> None:
    data = {"vr_model_param": "1band_sr44100_hl512", "primary_stem": "Vocals"}
    params = import_uvr(sized(tmp_path, 33000), "0" * 32, data)["params"]
    assert params["output_stem_names"] == ["vocals", "instrum"]
    assert params["arch_size"] == 33966
    assert (
        "karaoke"
        in import_uvr(sized(tmp_path, 123000), "6b5916069a49be3fe29d4397ecfd73fa", None)[
            "description"
        ]
    )


def test_unknown(tmp_path: Path) -> None:
    with pytest.raises(UvrModelDataError, match=r"model\.pth: no VR model data"):
        import_uvr(sized(tmp_path, 1), "f" * 32, None)
    with pytest.raises(UvrModelDataError, match="vr_model_param"):
        import_uvr(sized(tmp_path, 1), "f" * 32, {"vr_model_param": "9band"})


def test_stem_names() -> None:
    assert [uvr_stem_name(s) for s in ("Vocals", "Instrumental", "No Woodwinds", "Noise")] == [
        "vocals", "instrum", "no_woodwinds", "noise",
    ]  # fmt: skip
    assert uvr_secondary_stem("No Reverb") == "Reverb"
    assert uvr_secondary_stem("Noise") == "No Noise"
    assert arch_size(218409 * 1024) == 218409


def test_every_table_entry_imports(tmp_path: Path) -> None:
    path = sized(tmp_path, 123821)
    for model_hash in uvr_table():
        VrParams.model_validate(import_uvr(path, model_hash, None)["params"])
