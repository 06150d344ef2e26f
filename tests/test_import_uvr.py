"""`splifft import-uvr`: UVR's file hash, the plugin's table or --model-data, the written manifest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import splifft
from splifft.cli import main
from splifft_core import paths
from splifft_core.errors import CheckpointError, UvrModelDataError
from splifft_core.plugins import PluginHost
from splifft_core.uvr import UVR_HASH_BYTES, import_uvr, uvr_model_hash
from tests.fake_plugins import identity, uvr_gain


def model_file(tmp_path: Path, gain: float = 0.5, name: str = "5_HP-Karaoke-UVR.pth") -> Path:
    path = tmp_path / name
    torch.save({"gains": torch.tensor([gain])}, path)
    return path


def test_uvr_hash_is_the_md5_of_the_last_10240000_bytes(tmp_path: Path) -> None:
    small = tmp_path / "small.onnx"
    small.write_bytes(b"abc" * 1000)
    assert uvr_model_hash(small) == hashlib.md5(b"abc" * 1000).hexdigest()
    big = tmp_path / "big.onnx"
    data = bytes(range(256)) * ((UVR_HASH_BYTES + 12345) // 256)
    big.write_bytes(data)
    assert len(data) > UVR_HASH_BYTES
    # the value audio-separator's get_model_hash computes (seek to size - 10,240,000)
    assert uvr_model_hash(big) == hashlib.md5(data[len(data) - 10_240_000 :]).hexdigest()


def test_import_by_hash_writes_a_manifest_that_separates(
    plugin_host: Callable[..., PluginHost], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin_host(identity, uvr_gain)
    path = model_file(tmp_path)
    uvr_gain.KNOWN_HASHES.clear()
    uvr_gain.KNOWN_HASHES[uvr_model_hash(path)] = {"primary_stem": "Vocals", "gain": 0.5}
    assert main(["import-uvr", str(path)]) == 0
    ident = "gain_uvr-custom-5_hp_karaoke_uvr"
    target = paths.user_manifests_dir() / f"{ident}.json"
    assert capsys.readouterr().out.splitlines()[0] == f"wrote {target}"
    written = json.loads(target.read_text())
    assert written["stems"] == ["vocals"]
    assert written["derived_stems"] == {"instrum": {"plus": ["mixture"], "minus": ["vocals"]}}
    assert written["inference"]["overlap_ratio"] == 0.5
    assert f"UVR hash {uvr_model_hash(path)}" in written["description"]

    separator = splifft.load(ident, device="cpu")
    mix = torch.randn(2, 3000) * 0.1
    stems = separator.separate(mix, sample_rate=44100)
    torch.testing.assert_close(stems["vocals"], 0.5 * mix, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(stems["instrum"], 0.5 * mix, atol=1e-5, rtol=1e-4)


def test_model_data_file_and_its_hash_keyed_form(
    plugin_host: Callable[..., PluginHost], tmp_path: Path
) -> None:
    plugin_host(identity, uvr_gain)
    uvr_gain.KNOWN_HASHES.clear()
    path = model_file(tmp_path, gain=2.0, name="UVR-DeEcho-DeReverb.pth")
    entry = tmp_path / "entry.json"
    entry.write_text(json.dumps({"primary_stem": "Reverb", "gain": 2.0}))
    result = import_uvr(path, identifier="gain_uvr-me-dereverb", model_data=entry)
    assert result.manifest.stems == ["reverb"]
    assert set(result.manifest.all_stems) == {"reverb", "no_reverb"}

    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({uvr_model_hash(path): {"primary_stem": "Vocals", "gain": 2.0}}))
    again = import_uvr(path, identifier="gain_uvr-me-dereverb", model_data=keyed, force=True)
    assert again.manifest.stems == ["vocals"]


def test_errors_are_one_line_and_write_nothing(
    plugin_host: Callable[..., PluginHost], tmp_path: Path
) -> None:
    plugin_host(identity, uvr_gain)
    uvr_gain.KNOWN_HASHES.clear()
    path = model_file(tmp_path)
    with pytest.raises(UvrModelDataError, match="is not in the tables") as unknown:
        import_uvr(path)
    assert str(path) in str(unknown.value) and "\n" not in str(unknown.value)

    onnx = tmp_path / "Kim_Vocal_2.onnx"
    onnx.write_bytes(b"not onnx")
    with pytest.raises(UvrModelDataError, match=r"no installed plugin imports UVR \.onnx"):
        import_uvr(onnx)

    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{nope")
    with pytest.raises(UvrModelDataError, match=r"bad.json: not JSON"):
        import_uvr(path, model_data=bad_json)

    with pytest.raises(UvrModelDataError, match="model file not found"):
        import_uvr(tmp_path / "missing.pth")

    # params that do not fit the file: refused before a manifest is written
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"primary_stem": "Vocals", "gain": 1.0}))
    broken = tmp_path / "broken.pth"
    torch.save({"other": torch.zeros(3)}, broken)
    with pytest.raises(CheckpointError, match=r"broken.pth"):
        import_uvr(broken, model_data=wrong)
    assert not any(paths.user_manifests_dir().glob("*.json"))
