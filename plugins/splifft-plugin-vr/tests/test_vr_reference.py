"""Fidelity against audio-separator's VRSeparator (goldens from tests/fixtures/make_vr_fixtures.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from splifft_plugin_vr.network import VrSeparator
from splifft_plugin_vr.params import VrParams

FIXTURES = Path(__file__).parent / "fixtures"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_vr_fixtures", FIXTURES / "make_vr_fixtures.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def separator(case: dict[str, Any], **extra: Any) -> VrSeparator:
    params = VrParams.model_validate({**case, **extra})
    model = VrSeparator(params)
    model.net.load_state_dict(generator().seeded_state_dict(model.net.state_dict()))
    return model.eval()


EXACT = [
    "1band_aspp", "1band_aspp_tta", "4band_aspp", "4band_aspp_tta", "4band_lstm", "2band_lstm",
    "2band_lstm_tta",
]  # fmt: skip
"""Every case: 1, 2 and 4 bands, both networks, with and without TTA; libsamplerate's
`sinc_*` converters (the 2-band layouts' lower band, every layout's band merge) through the
`samplerate` package, the same libsamplerate 0.2.2 as the reference's."""


@pytest.mark.parametrize("name", EXACT)
def test_matches_audio_separator(name: str) -> None:
    golden = torch.load(FIXTURES / f"vr_{name}.pt", weights_only=True)
    wave = torch.from_numpy(generator().test_input(1.2))
    with torch.no_grad():
        ours = separator(golden["case"])(wave[None])[0]
    ref = golden["stems"]
    n = ref.shape[-1]
    scale = float(ref.abs().max())
    error = float((ours[..., :n] - ref).abs().max())
    assert error <= 1e-4 * scale, (error, scale)
