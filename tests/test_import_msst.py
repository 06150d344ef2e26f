"""`splifft import-msst`: safe yaml, architecture inference, the written manifest, and loading it."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import splifft
from splifft.cli import main
from splifft_core import paths
from splifft_core.errors import DigestMismatchError, ManifestError, MsstConfigError
from splifft_core.manifest import Manifest
from splifft_core.msst import import_msst, load_msst_yaml
from splifft_core.plugins import PluginHost
from tests.fake_plugins import identity, msst_gain, msst_twin

CONFIG = """
audio:
  chunk_size: 2048
  sample_rate: 44100
  num_channels: 2
  min_mean_abs: 0.0
model:
  gains: !!python/tuple [0.5, 2.0]
training:
  instruments: [vocals, other]
  batch_size: 8
  lr: 1.0e-4
inference:
  num_overlap: 4
  batch_size: 3
"""


def write(tmp_path: Path, text: str, name: str = "config_gain.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def checkpoint(tmp_path: Path, gains: tuple[float, ...] = (0.5, 2.0)) -> Path:
    path = tmp_path / "My Model ep_12 sdr 9.87.ckpt"
    # MSST saves a bare state dict (or nests it under 'state_dict')
    torch.save({"state_dict": {"gains": torch.tensor(gains)}}, path)
    return path


# -- safe yaml ------------------------------------------------------------------------------------


def test_python_tuple_is_the_only_python_tag(tmp_path: Path) -> None:
    config = load_msst_yaml(write(tmp_path, CONFIG))
    assert config["model"]["gains"] == (0.5, 2.0)


@pytest.mark.parametrize(
    "payload",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:os.system ['touch {marker}']",
        "!!python/name:os.system",
        "!!python/module:os",
        "!!python/object:pathlib.Path {{}}",
    ],
)
def test_python_objects_are_refused(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "pwned"
    path = write(tmp_path, f"model:\n  gains: {payload.format(marker=marker)}\n")
    with pytest.raises(MsstConfigError) as error:
        load_msst_yaml(path)
    message = str(error.value)
    assert "refusing to construct tag 'tag:yaml.org,2002:python/" in message
    assert "(line 2)" in message and "\n" not in message
    assert not marker.exists()


def test_unreadable_and_malformed_yaml(tmp_path: Path) -> None:
    with pytest.raises(MsstConfigError, match="cannot read config"):
        load_msst_yaml(tmp_path / "missing.yaml")
    with pytest.raises(MsstConfigError, match="not valid YAML"):
        load_msst_yaml(write(tmp_path, "a: [1, 2\n"))
    with pytest.raises(MsstConfigError, match="expected a mapping"):
        load_msst_yaml(write(tmp_path, "- 1\n- 2\n"))


# -- inference of the architecture ------------------------------------------------------------------


def test_import_writes_a_manifest_that_loads_and_separates(
    plugin_host: Callable[..., PluginHost], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin_host(identity, msst_gain)
    config, ckpt = write(tmp_path, CONFIG), checkpoint(tmp_path)
    assert main(["import-msst", str(config), str(ckpt)]) == 0
    out = capsys.readouterr().out
    ident = "gain_net-custom-my_model_ep_12_sdr_9_87"
    target = paths.user_manifests_dir() / f"{ident}.json"
    assert out.splitlines()[0] == f"wrote {target}"
    assert f"splifft run SONG -m {ident}" in out

    written = json.loads(target.read_text())
    manifest = Manifest.model_validate(written)
    assert manifest.architecture == "gain_net"
    assert manifest.stems == ["vocals", "other"] and manifest.all_stems[-1] == "instrum"
    assert (manifest.sample_rate, manifest.channels) == (44100, 2)
    assert manifest.params["gains"] == [0.5, 2.0]
    assert manifest.inference.overlap_ratio == 0.75 and manifest.inference.batch_size == 3
    (resource,) = manifest.resources
    assert resource.kind == "local" and Path(resource.path) == ckpt.resolve()
    assert resource.sha256 is not None and resource.size == ckpt.stat().st_size

    separator = splifft.load(ident, device="cpu")
    mix = torch.randn(2, 5000) * 0.1
    stems = separator.separate(mix, sample_rate=44100)
    # the checkpoint's gains (0.5, 2.0), as params say too; instrum = mixture - vocals
    torch.testing.assert_close(stems["vocals"], 0.5 * mix, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(stems["other"], 2.0 * mix, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(stems["instrum"], 0.5 * mix, atol=1e-5, rtol=1e-4)

    # a checkpoint changed after the import no longer matches the recorded digest
    torch.save({"gains": torch.tensor([1.0, 1.0])}, ckpt)
    with pytest.raises(DigestMismatchError, match=resource.sha256):
        splifft.load(ident, device="cpu")


def test_round_trip_and_reimport(plugin_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    plugin_host(identity, msst_gain)
    config, ckpt = write(tmp_path, CONFIG), checkpoint(tmp_path)
    first = import_msst(config, ckpt, identifier="gain_net-me-vocals")
    assert first.path.name == "gain_net-me-vocals.json"
    assert Manifest.model_validate_json(first.path.read_text()) == first.manifest
    with pytest.raises(ManifestError, match=r"already exists.*--force"):
        import_msst(config, ckpt, identifier="gain_net-me-vocals")
    again = import_msst(config, ckpt, identifier="gain_net-me-vocals", force=True)
    assert again.manifest == first.manifest
    # `rm` never deletes a user's own checkpoint
    assert main(["rm", "gain_net-me-vocals"]) == 0
    assert ckpt.is_file()


def test_identifier_checks(plugin_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    plugin_host(identity, msst_gain)
    config, ckpt = write(tmp_path, CONFIG), checkpoint(tmp_path)
    for bad in ("gain_net-../x-y", "gain_net-a", "identity-me-vocals", "gain_net-a-B"):
        with pytest.raises(ManifestError, match="must look like 'gain_net-AUTHOR-NAME'"):
            import_msst(config, ckpt, identifier=bad)
    # an identifier a plugin already uses cannot be taken, not even with --force
    plugin_host(identity, msst_gain, _plugin_manifest("gain_net-test-taken"))
    with pytest.raises(ManifestError, match="already exists \\(plugin manifest"):
        import_msst(config, ckpt, identifier="gain_net-test-taken", force=True)


def _plugin_manifest(identifier: str) -> object:
    import types

    from splifft_core.hookspecs import hookimpl

    module = types.ModuleType("taken")

    @hookimpl
    def splifft_manifests() -> list[dict[str, object]]:
        return [
            {
                "identifier": identifier,
                "architecture": "gain_net",
                "stems": ["vocals"],
                "sample_rate": 44100,
                "channels": 2,
            }
        ]

    module.splifft_manifests = splifft_manifests  # type: ignore[attr-defined]
    return module


def test_ambiguous_config_asks_for_model_type(
    plugin_host: Callable[..., PluginHost], tmp_path: Path
) -> None:
    plugin_host(msst_gain, msst_twin)
    config, ckpt = write(tmp_path, CONFIG), checkpoint(tmp_path)
    with pytest.raises(MsstConfigError) as error:
        import_msst(config, ckpt)
    message = str(error.value)
    assert "fits several architectures" in message and "pass --model-type" in message
    assert "gain_net (--model-type gain_net/gain)" in message and "gain_twin" in message
    chosen = import_msst(config, ckpt, model_type="gain_twin")
    assert chosen.manifest.architecture == "gain_twin"
    assert chosen.manifest.identifier == "gain_twin-custom-my_model_ep_12_sdr_9_87"


def test_no_converter_accepts_lists_each_complaint(
    plugin_host: Callable[..., PluginHost], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin_host(msst_gain, msst_twin)
    config = write(tmp_path, CONFIG.replace("  gains:", "  n_fft: 2048\n  gains:"))
    ckpt = checkpoint(tmp_path)
    assert main(["import-msst", str(config), str(ckpt)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no installed architecture accepts this config" in err
    assert "gain_net: unknown key(s) model.n_fft" in err
    assert "picky: missing model.band_split" in err
    assert "crashy: converter failed (KeyError" in err
    assert not paths.user_manifests_dir().exists() or not list(paths.user_manifests_dir().iterdir())


def test_model_type_errors(plugin_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    plugin_host(msst_gain, msst_twin)
    config, ckpt = write(tmp_path, CONFIG), checkpoint(tmp_path)
    with pytest.raises(
        MsstConfigError, match="no installed plugin imports MSST model type 'scnet'"
    ):
        import_msst(config, ckpt, model_type="scnet")
    with pytest.raises(MsstConfigError, match="cannot import as 'picky': picky: missing"):
        import_msst(config, ckpt, model_type="picky")
    assert import_msst(config, ckpt, model_type="gain").manifest.architecture == "gain_net"
    with pytest.raises(MsstConfigError, match="checkpoint file not found"):
        import_msst(config, tmp_path / "nope.ckpt")


def test_no_importers_installed(plugin_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    plugin_host(identity)
    with pytest.raises(MsstConfigError, match="no installed plugin imports MSST configs"):
        import_msst(write(tmp_path, CONFIG), checkpoint(tmp_path))


def test_target_instrument_config(plugin_host: Callable[..., PluginHost], tmp_path: Path) -> None:
    plugin_host(msst_gain)
    config = write(tmp_path, CONFIG.replace("  batch_size: 8", "  target_instrument: vocals"))
    result = import_msst(config, checkpoint(tmp_path, gains=(0.5,)))
    assert result.manifest.stems == ["vocals"]
    separator = splifft.load(result.manifest.identifier, device="cpu")
    mix = np.zeros((2, 3000), dtype=np.float32)
    assert set(separator.separate(mix, sample_rate=44100)) == {"vocals", "instrum"}
