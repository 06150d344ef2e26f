"""MSST `htdemucs` yaml configs map onto our params; unknown keys are refused."""

from __future__ import annotations

from typing import Any

import pytest
from splifft_plugin_demucs.msst import import_msst
from splifft_plugin_demucs.params import HTDemucsParams

from splifft_core.errors import MsstConfigError


def vocals_config() -> dict[str, Any]:
    """The shape of MSST's `configs/config_vocals_htdemucs.yaml` (as yaml.safe_load reads it)."""
    return {
        "audio": {"chunk_size": 485100, "min_mean_abs": 0.001, "hop_length": 1024},
        "training": {
            "batch_size": 10,
            "segment": 11,
            "shift": 1,
            "samplerate": 44100,
            "channels": 2,
            "normalize": True,
            "instruments": ["vocals", "other"],
            "target_instrument": None,
            "use_amp": True,
        },
        "augmentations": {"enable": True, "loudness": True},
        "inference": {"num_overlap": 2, "batch_size": 8},
        "model": "htdemucs",
        "htdemucs": {
            "channels": 48,
            "channels_time": None,
            "growth": 2,
            "num_subbands": 1,
            "nfft": 4096,
            "wiener_iters": 0,
            "end_iters": 0,
            "wiener_residual": False,
            "cac": True,
            "depth": 4,
            "rewrite": True,
            "multi_freqs": [],
            "multi_freqs_depth": 3,
            "freq_emb": 0.2,
            "emb_scale": 10,
            "emb_smooth": True,
            "kernel_size": 8,
            "stride": 4,
            "time_stride": 2,
            "context": 1,
            "context_enc": 0,
            "norm_starts": 4,
            "norm_groups": 4,
            "dconv_mode": 3,
            "dconv_depth": 2,
            "dconv_comp": 8,
            "dconv_init": "1e-3",  # yaml 1.1 reads 1e-3 as a string
            "bottom_channels": 512,
            "t_layers": 5,
            "t_hidden_scale": 4.0,
            "t_heads": 8,
            "t_dropout": 0.0,
            "t_layer_scale": True,
            "t_gelu": True,
            "t_emb": "sin",
            "t_max_positions": 10000,
            "t_max_period": 10000.0,
            "t_weight_pos_embed": 1.0,
            "t_cape_mean_normalize": True,
            "t_cape_augment": True,
            "t_cape_glob_loc_scale": [5000.0, 1.0, 1.4],
            "t_sin_random_shift": 0,
            "t_norm_in": True,
            "t_norm_in_group": False,
            "t_group_norm": False,
            "t_norm_first": True,
            "t_norm_out": True,
            "t_weight_decay": 0.0,
            "t_lr": None,
            "t_sparse_self_attn": False,
            "t_sparse_cross_attn": False,
            "t_mask_type": "diag",
            "t_mask_random_seed": 42,
            "t_sparse_attn_window": 400,
            "t_global_window": 100,
            "t_sparsity": 0.95,
            "t_auto_sparsity": False,
            "t_cross_first": False,
            "rescale": 0.1,
        },
    }


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
