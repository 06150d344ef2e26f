"""`splifft import-msst` with the first-party plugins: a small MSST-style yaml per architecture
plus a random checkpoint → a manifest that `splifft.load` accepts and that separates audio.

The configs have the keys of MSST's own (`configs/config_*.yaml`), shrunk so that the networks
are tiny. No `--model-type`: the architecture is inferred from the keys among all plugins.
"""

from __future__ import annotations

import importlib
import textwrap
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

BS_ROFORMER = """
audio: {chunk_size: 8192, num_channels: 2, sample_rate: 44100, min_mean_abs: 0.0, n_fft: 256, hop_length: 64, dim_f: 128, dim_t: 129}
model:
  dim: 16
  depth: 1
  stereo: true
  num_stems: 1
  time_transformer_depth: 1
  freq_transformer_depth: 1
  linear_transformer_depth: 0
  freqs_per_bands: !!python/tuple [32, 32, 65]
  dim_head: 8
  heads: 2
  attn_dropout: 0.1
  ff_dropout: 0.1
  flash_attn: true
  dim_freqs_in: 129
  stft_n_fft: 256
  stft_hop_length: 64
  stft_win_length: 256
  stft_normalized: false
  mask_estimator_depth: 1
  mlp_expansion_factor: 1
  multi_stft_resolution_loss_weight: 1.0
  multi_stft_resolutions_window_sizes: !!python/tuple [256, 128]
  multi_stft_hop_size: 64
  multi_stft_normalized: false
training: {batch_size: 2, instruments: [vocals, other], target_instrument: vocals, use_amp: true}
inference: {batch_size: 2, dim_t: 129, num_overlap: 2}
"""

MEL_BAND_ROFORMER = """
audio: {chunk_size: 4096, num_channels: 2, sample_rate: 44100, min_mean_abs: 0.0}
model:
  dim: 16
  depth: 1
  stereo: true
  num_stems: 2
  time_transformer_depth: 1
  freq_transformer_depth: 1
  num_bands: 8
  dim_head: 8
  heads: 2
  attn_dropout: 0
  ff_dropout: 0
  flash_attn: true
  dim_freqs_in: 129
  sample_rate: 44100
  stft_n_fft: 256
  stft_hop_length: 64
  stft_win_length: 256
  stft_normalized: false
  mask_estimator_depth: 1
  mlp_expansion_factor: 1
training: {batch_size: 1, instruments: [vocals, other], target_instrument: null}
inference: {batch_size: 1, num_overlap: 4}
"""

MDX23C = """
audio: {chunk_size: 1984, dim_f: 64, dim_t: 32, hop_length: 64, n_fft: 256, num_channels: 2, sample_rate: 44100, min_mean_abs: 0.001}
model: {act: gelu, bottleneck_factor: 2, growth: 4, norm: InstanceNorm, num_blocks_per_scale: 1, num_channels: 8, num_scales: 2, num_subbands: 2, scale: [2, 2]}
training: {batch_size: 6, instruments: [vocals, other], lr: 9.0e-05, target_instrument: null, use_amp: true}
augmentations: {enable: true, mixup_probs: !!python/tuple [0.2, 0.02]}
inference: {batch_size: 1, dim_t: 32, num_overlap: 2}
"""

SCNET = """
audio: {chunk_size: 8192, num_channels: 2, sample_rate: 44100, min_mean_abs: 0.0}
model:
  sources: [drums, bass, other, vocals]
  audio_channels: 2
  dims: [4, 8, 16, 32]
  nfft: 256
  hop_size: 64
  win_size: 256
  normalized: true
  band_SR: [0.25, 0.375, 0.375]
  band_stride: [1, 4, 16]
  band_kernel: [3, 4, 16]
  conv_depths: [1, 1, 1]
  compress: 4
  conv_kernel: 3
  num_dplayer: 2
  expand: 1
training: {batch_size: 6, instruments: [drums, bass, other, vocals], target_instrument: null}
inference: {batch_size: 2, num_overlap: 2}
"""

HTDEMUCS = """
audio: {chunk_size: 44100, min_mean_abs: 0.001, hop_length: 1024}
training: {batch_size: 10, segment: 0.25, shift: 1, samplerate: 44100, channels: 2, normalize: true, instruments: [vocals, other], target_instrument: null, use_amp: true}
inference: {num_overlap: 2, batch_size: 1}
model: htdemucs
htdemucs:
  channels: 8
  channels_time: null
  growth: 2
  nfft: 512
  wiener_iters: 0
  end_iters: 0
  wiener_residual: false
  cac: true
  depth: 2
  rewrite: true
  multi_freqs: []
  multi_freqs_depth: 3
  freq_emb: 0.2
  emb_scale: 10
  emb_smooth: true
  kernel_size: 8
  stride: 4
  time_stride: 2
  context: 1
  context_enc: 0
  norm_starts: 4
  norm_groups: 4
  dconv_mode: 3
  dconv_depth: 2
  dconv_comp: 4
  dconv_init: 1e-3
  bottom_channels: 0
  t_layers: 1
  t_hidden_scale: 2.0
  t_heads: 2
  t_dropout: 0.0
  t_layer_scale: true
  t_gelu: true
  t_emb: sin
  t_max_positions: 10000
  t_max_period: 10000.0
  t_weight_pos_embed: 1.0
  t_cape_mean_normalize: true
  t_cape_augment: true
  t_cape_glob_loc_scale: [5000.0, 1.0, 1.4]
  t_sin_random_shift: 0
  t_norm_in: true
  t_norm_in_group: false
  t_group_norm: false
  t_norm_first: true
  t_norm_out: true
  t_weight_decay: 0.0
  t_lr: null
  t_sparse_self_attn: false
  t_sparse_cross_attn: false
  t_mask_type: diag
  t_mask_random_seed: 42
  t_sparse_attn_window: 400
  t_global_window: 100
  t_sparsity: 0.95
  t_auto_sparsity: false
  t_cross_first: false
"""

CASES = [
    pytest.param(
        BS_ROFORMER,
        "bs_roformer",
        "splifft_plugin_roformer",
        ["vocals", "instrum"],
        id="bs_roformer",
    ),
    pytest.param(
        MEL_BAND_ROFORMER,
        "mel_roformer",
        "splifft_plugin_roformer",
        ["vocals", "other", "instrum"],
        id="mel_roformer",
    ),
    pytest.param(
        MDX23C, "mdx23c", "splifft_plugin_mdx23c", ["vocals", "other", "instrum"], id="mdx23c"
    ),
    pytest.param(
        SCNET,
        "scnet",
        "splifft_plugin_scnet",
        ["drums", "bass", "other", "vocals", "instrum"],
        id="scnet",
    ),
    pytest.param(
        HTDEMUCS, "htdemucs", "splifft_plugin_demucs", ["vocals", "other", "instrum"], id="htdemucs"
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


@pytest.mark.parametrize(("text", "architecture", "plugin", "stems"), CASES)
def test_import_msst_then_separate(
    all_plugins: PluginHost,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    architecture: str,
    plugin: str,
    stems: list[str],
) -> None:
    pytest.importorskip(plugin)
    config = tmp_path / f"config_{architecture}.yaml"
    config.write_text(textwrap.dedent(text))
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
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(BS_ROFORMER))
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
