"""`splifft import-msst` with the first-party plugins: a small MSST-style yaml per architecture
plus a random checkpoint → a manifest that `splifft.load` accepts and that separates audio.

The configs (`tests/fixtures/msst/`) have the keys of MSST's own (`configs/config_*.yaml`),
shrunk so that the networks are tiny. No `--model-type`: the architecture is inferred from the
keys among all plugins.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch

import splifft
from splifft.cli import main
from splifft_core.errors import MsstConfigError
from splifft_core.msst import import_msst, infer_architecture, load_msst_yaml
from splifft_core.plugins import PluginHost

PLUGINS = (
    "splifft_plugin_roformer",
    "splifft_plugin_mdx23c",
    "splifft_plugin_scnet",
    "splifft_plugin_demucs",
)

CONFIGS = Path(__file__).resolve().parent / "fixtures" / "msst"
"""`config_{MSST model type}.yaml`."""

CASES = [
    pytest.param(
        "bs_roformer",
        "bs_roformer",
        "splifft_plugin_roformer",
        ["vocals", "instrum"],
        id="bs_roformer",
    ),
    pytest.param(
        "mel_band_roformer",
        "mel_roformer",
        "splifft_plugin_roformer",
        ["vocals", "other", "instrum"],
        id="mel_roformer",
    ),
    pytest.param(
        "mdx23c", "mdx23c", "splifft_plugin_mdx23c", ["vocals", "other", "instrum"], id="mdx23c"
    ),
    pytest.param(
        "scnet",
        "scnet",
        "splifft_plugin_scnet",
        ["drums", "bass", "other", "vocals", "instrum"],
        id="scnet",
    ),
    pytest.param(
        "htdemucs",
        "htdemucs",
        "splifft_plugin_demucs",
        ["vocals", "other", "instrum"],
        id="htdemucs",
    ),
]


def installed_plugins() -> list[ModuleType]:
    modules = []
    for name in PLUGINS:
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            continue
    return modules


@pytest.fixture
def all_plugins(plugin_host: Callable[..., PluginHost]) -> PluginHost:
    return plugin_host(*installed_plugins())


def random_checkpoint(config: Path, host: PluginHost, target: Path) -> Path:
    conversion = infer_architecture(load_msst_yaml(config), host=host)
    torch.manual_seed(0)
    network = conversion.spec.build_model(conversion.spec.parse_params(conversion.params))
    torch.save(network.state_dict(), target)
    return target


@pytest.mark.parametrize(("model_type", "architecture", "plugin", "stems"), CASES)
def test_import_msst_then_separate(
    all_plugins: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    model_type: str,
    architecture: str,
    plugin: str,
    stems: list[str],
) -> None:
    pytest.importorskip(plugin)
    config = CONFIGS / f"config_{model_type}.yaml"
    checkpoint = random_checkpoint(config, all_plugins, tmp_path / "model_ep_1.ckpt")
    assert main(["import-msst", str(config), str(checkpoint)]) == 0, capsys.readouterr().err
    identifier = f"{architecture}-custom-model_ep_1"
    assert "wrote " in capsys.readouterr().out

    separator = splifft.load(identifier, device="cpu")
    mix = 0.1 * torch.randn(2, 4410, generator=torch.Generator().manual_seed(1))
    out = separator.separate(mix, sample_rate=44100)
    assert list(out) == stems
    for stem, audio in out.items():
        assert audio.shape == mix.shape, stem
        assert torch.isfinite(audio).all(), stem


def test_roformer_configs_are_told_apart(all_plugins: PluginHost, tmp_path: Path) -> None:
    pytest.importorskip("splifft_plugin_roformer")
    config = CONFIGS / "config_bs_roformer.yaml"
    checkpoint = random_checkpoint(config, all_plugins, tmp_path / "bs.ckpt")
    with pytest.raises(MsstConfigError, match="cannot import as 'mel_band_roformer'"):
        import_msst(config, checkpoint, model_type="mel_band_roformer")
    result = import_msst(
        config, checkpoint, model_type="bs_roformer", identifier="bs_roformer-me-tiny"
    )
    assert result.manifest.inference.overlap_ratio == 0.5
    assert result.manifest.inference.batch_size == 2


REAL_CONFIGS = sorted(
    (Path(__file__).resolve().parent.parent / "plugins").glob("*/tests/fixtures/msst_*.yaml")
)


@pytest.mark.parametrize("config", REAL_CONFIGS, ids=[p.name for p in REAL_CONFIGS])
def test_real_msst_configs_are_recognised(all_plugins: PluginHost, config: Path) -> None:
    """MSST's own full-size configs (kept as the plugins' fixtures) name one architecture."""
    plugin = config.parents[2].name.replace("-", "_")  # splifft_plugin_NAME
    module = pytest.importorskip(plugin)
    provided = {spec.name for spec in module.splifft_architectures()}
    conversion = infer_architecture(load_msst_yaml(config), host=all_plugins)
    assert conversion.spec.name in provided
