"""MDX-Net's spec, params, UVR import, manifests and loader errors (no real weights needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import splifft_plugin_mdxnet
from pydantic import ValidationError
from splifft_plugin_mdxnet import SPEC, MdxNetParams
from splifft_plugin_mdxnet.checkpoint import load_checkpoint
from splifft_plugin_mdxnet.network import build
from splifft_plugin_mdxnet.uvr import import_uvr, uvr_table

from splifft_core.errors import CheckpointError, UvrModelDataError
from splifft_core.manifest import Manifest
from splifft_core.models import resolve
from splifft_core.plugins import PluginHost
from splifft_core.testing import check_manifests
from splifft_core.uvr import uvr_model_hash, uvr_secondary_stem, uvr_stem_name

REPO = Path(__file__).resolve().parents[3]
GRAPH = Path(__file__).parent / "fixtures" / "mdxnet_tiny.onnx"
VOC_FT = "77d07b2667ddf05b9e3175941b4454a0"
"""UVR-MDX-NET-Voc_FT.onnx: n_fft 7680, dim_f 3072, dim_t 2**8, compensate 1.021, Vocals."""
TINY: dict[str, Any] = {"n_fft": 2048, "dim_f": 64, "dim_t": 32, "output_stem_names": ["vocals"]}


def test_spec() -> None:
    assert splifft_plugin_mdxnet.splifft_architectures() == [SPEC]
    assert SPEC.name == "mdxnet" and SPEC.archetype == "waveform"
    assert SPEC.uvr_suffixes == (".onnx",)
    assert resolve(SPEC.uvr_import or "") is import_uvr
    host = PluginHost(strict=True)
    host.register(splifft_plugin_mdxnet, "mdxnet", distribution="splifft-plugin-mdxnet")
    assert host.architecture("mdxnet") == SPEC


def test_import_is_torch_free() -> None:
    code = (
        "import sys, splifft_plugin_mdxnet, splifft_plugin_mdxnet.uvr; "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_params() -> None:
    params = MdxNetParams.model_validate(TINY)
    assert params.chunk_size == 1024 * 31 and params.trim == 1024
    assert params.zeroed_bins == 3 and params.hop_length == 1024
    default = MdxNetParams()
    assert default.chunk_size == 1024 * 255  # UVR's chunk_size = hop · (segment − 1)
    for bad in (
        {**TINY, "chunk_size": 1000},
        {**TINY, "audio_channels": 1},
        {**TINY, "dim_f": 2000},
        {**TINY, "n_fft": 512},
        {**TINY, "output_stem_names": ["vocals", "instrum"]},
        {**TINY, "surprise": 1},
    ):
        with pytest.raises(ValidationError):
            MdxNetParams.model_validate(bad)


def test_stem_names() -> None:
    assert [uvr_stem_name(s) for s in ("Vocals", "Instrumental", "Reverb", "No Crowd")] == [
        "vocals", "instrum", "reverb", "no_crowd",
    ]  # fmt: skip
    pairs = {"Vocals": "Instrumental", "Instrumental": "Vocals", "Reverb": "No Reverb"}
    for primary, secondary in {**pairs, "No Crowd": "Crowd", "Bass": "No Bass"}.items():
        assert uvr_secondary_stem(primary) == secondary


def test_import_from_the_shipped_table() -> None:
    result = import_uvr(Path("UVR-MDX-NET-Voc_FT.onnx"), VOC_FT, None)
    params = MdxNetParams.model_validate(result["params"])
    assert (params.n_fft, params.dim_f, params.dim_t, params.compensate) == (7680, 3072, 256, 1.021)
    assert params.output_stem_names == ("vocals",) and params.chunk_size == 1024 * 255
    assert result["derived_stems"] == {"instrum": {"plus": ["mixture"], "minus": ["vocals"]}}
    inference = result["inference"]
    assert inference["hop_size"] == params.chunk_size - 7680  # UVR's "Default" overlap
    assert inference["edge_padding"] == 3840 and inference["padding_mode"] == "constant"
    assert "Voc_FT" in result["description"]


def test_every_table_entry_imports() -> None:
    table = uvr_table()
    assert len(table) == 44
    for model_hash in table:
        result = import_uvr(Path("model.onnx"), model_hash, None)
        MdxNetParams.model_validate(result["params"])
        (secondary,) = result["derived_stems"]
        assert secondary not in result["params"]["output_stem_names"]


def test_import_with_model_data() -> None:
    data = {
        "compensate": 1.035, "mdx_dim_f_set": 64, "mdx_dim_t_set": 5,
        "mdx_n_fft_scale_set": 2048, "primary_stem": "Reverb",
    }  # fmt: skip
    model_hash = uvr_model_hash(GRAPH)
    result = import_uvr(GRAPH, model_hash, data)
    assert result["params"]["output_stem_names"] == ["reverb"]
    assert result["params"]["dim_t"] == 32 and result["params"]["chunk_size"] == 31744
    assert result["derived_stems"] == {"no_reverb": {"plus": ["mixture"], "minus": ["reverb"]}}
    with pytest.raises(UvrModelDataError, match=r"mdxnet_tiny\.onnx: UVR hash"):
        import_uvr(GRAPH, model_hash, None)
    with pytest.raises(UvrModelDataError, match="lacks primary_stem"):
        import_uvr(GRAPH, model_hash, {k: v for k, v in data.items() if k != "primary_stem"})
    with pytest.raises(UvrModelDataError, match="config_yaml"):
        import_uvr(GRAPH, model_hash, {"config_yaml": "model_2_stem_061321.yaml"})
    with pytest.raises(UvrModelDataError, match="unreadable"):
        import_uvr(GRAPH, model_hash, {**data, "mdx_dim_f_set": "wide"})


def test_manifests() -> None:
    files = sorted(REPO.glob("registry/mdxnet-*.json"))
    checked = check_manifests(SPEC, files, plugin="splifft-plugin-mdxnet", build="all")
    assert len(checked) == 5
    for path in files:
        manifest = Manifest.model_validate(json.loads(path.read_text()))
        assert manifest.identifier.startswith("mdxnet-kim-")
        (resource,) = manifest.resources
        expected = import_uvr(Path(resource.filename), _hash_of(resource.filename), None)
        assert manifest.params == expected["params"]
        inference = manifest.inference.model_dump(exclude_unset=True, by_alias=True)
        assert inference == expected["inference"]


def _hash_of(file_name: str) -> str:
    return next(h for h, e in uvr_table().items() if e.get("name") == file_name)


def test_loader_errors(tmp_path: Path) -> None:
    network = build(MdxNetParams.model_validate(TINY))
    with pytest.raises(CheckpointError, match=r"one \.onnx file"):
        load_checkpoint(network, network.params, [GRAPH, GRAPH])
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(network, network.params, [tmp_path / "missing.onnx"])
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf")
    with pytest.raises(CheckpointError, match="not the MDX-Net ONNX graph"):
        load_checkpoint(network, network.params, [junk])
    wider = build(MdxNetParams.model_validate({**TINY, "dim_f": 128}))
    with pytest.raises(CheckpointError, match=r"\(batch, 4, 128, 32\)"):
        load_checkpoint(wider, wider.params, [GRAPH])
    with pytest.raises(RuntimeError, match="no ONNX graph loaded"):
        import torch

        network(torch.zeros(1, 2, network.params.chunk_size))
    load_checkpoint(network, network.params, [GRAPH])
    assert network.session is not None
