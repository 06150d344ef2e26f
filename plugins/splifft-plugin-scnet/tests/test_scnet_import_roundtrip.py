"""`import-msst` round trip: an MSST yaml + checkpoint → manifest → `splifft.load` → the reference's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
import splifft_plugin_scnet
import torch
import yaml

from splifft_core import api
from splifft_core.msst import import_msst
from splifft_core.plugins import PluginHost

FIXTURE = Path(__file__).parent / "fixtures" / "scnet_large_bands_2stems.pt"
TOLERANCE = 1e-4


def test_import_msst_then_load_matches_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPLIFFT_HOME", str(tmp_path / "home"))
    fixture = torch.load(FIXTURE, weights_only=True)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(fixture["msst_config"]))
    checkpoint = tmp_path / "model.ckpt"
    torch.save(fixture["state_dict"], checkpoint)
    host = PluginHost()
    host.register(splifft_plugin_scnet, "scnet")

    result = import_msst(config, checkpoint, model_type="scnet", host=host)
    assert result.manifest.architecture == "scnet"
    assert result.manifest.inference.chunk_layout == "msst"
    separator = api.load(result.manifest.identifier, device="cpu", host=host)
    with torch.no_grad():
        ours = separator.model(fixture["input"])
    assert (ours - fixture["output"]).abs().max().item() <= TOLERANCE
