"""The core's contract kit, plugin registration and manifests for the segmentation-model separator."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import splifft_plugin_segm_models
from splifft_plugin_segm_models import SPEC, SegmModelsParams

from splifft_core.config import InferenceConfig

TINY: dict[str, Any] = {
    "chunk_size": 1984,
    "output_stem_names": ["vocals", "other"],
    "n_fft": 256,
    "hop_length": 64,
    "dim_f": 64,
    "num_subbands": 2,
    "hidden_channels": 8,
    "encoder_name": "tu-test_efficientnet",
    "decoder_type": "unet",
    "decoder_options": {"decoder_channels": [8, 8, 8, 8, 8]},
}


def contract_kit() -> Any:
    pytest.importorskip("segmentation_models_pytorch")
    from splifft_core import testing

    return testing


def test_contract_kit() -> None:
    contract_kit().check_architecture(SPEC, TINY)


def test_contract_kit_fpn_target_other_chunk_size() -> None:
    """A run-time chunk size the encoder cannot halve enough is padded inside the network.

    (Big enough that the FPN's GroupNorm sees more than one value per channel in training.)
    """
    params = {
        **TINY,
        "chunk_size": 4032,
        "dim_f": 128,
        "output_stem_names": ["drums"],
        "decoder_type": "fpn",
        "decoder_options": {"decoder_pyramid_channels": 8, "decoder_segmentation_channels": 32},
        "act": "relu",
    }
    contract_kit().check_architecture(
        SPEC, params, inference=InferenceConfig(chunk_size=3000, overlap_ratio=0.5)
    )


def test_contract_kit_mono() -> None:
    """MSST's own STFT inverse assumes stereo; ours handles any channel count."""
    contract_kit().check_architecture(SPEC, {**TINY, "audio_channels": 1, "act": "elu1.0"})


def test_hooks() -> None:
    assert splifft_plugin_segm_models.splifft_architectures() == [SPEC]
    assert SPEC.name == "segm_models"
    assert SPEC.msst_model_types == ("segm_models",)


def test_import_is_torch_free() -> None:
    code = "import sys, splifft_plugin_segm_models; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_defaults_are_msst_vocals_config() -> None:
    params = SegmModelsParams(chunk_size=261632, output_stem_names=("vocals", "other"))
    assert params.encoder_name == "tu-maxvit_large_tf_512"
    assert (params.n_fft, params.hop_length, params.dim_f, params.num_subbands) == (
        8192,
        512,
        4096,
        8,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden": 3}, "Extra inputs are not permitted"),
        ({"act": "swish"}, "unknown act"),
        ({"decoder_type": "segformer"}, "decoder_type"),
        ({"decoder_options": {"in_channels": 3}}, "may not set"),
        ({"chunk_size": 2000}, "multiple of hop_length"),
        ({"dim_f": 63}, "divisible"),
        ({"dim_f": 256}, "exceeds"),
    ],
)
def test_params_reject(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SegmModelsParams.model_validate({**TINY, **change})


def test_manifests() -> None:
    """The catalogue's model; its params fit the published checkpoint size."""
    checked = contract_kit().check_manifests(
        SPEC, plugin="splifft-plugin-segm-models", build="all", size_slack=1024 * 1024
    )
    assert checked == ["segm_models-zfturbo-vitlarge23"]


def test_stem_selection() -> None:
    contract_kit().check_stem_selection(
        SPEC, {**TINY, "output_stem_names": ["vocals", "drums", "other"]}, ["other"]
    )
