"""The plugin as splifft sees it: torch-free import, manifests, contract kit, a separator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from splifft_plugin_demucs import HDEMUCS_SPEC, SPEC, splifft_architectures
from splifft_plugin_demucs.params import HDemucsParams, HTDemucsParams

from splifft_core.config import InferenceConfig
from splifft_core.separator import Separator
from splifft_core.testing import (
    builtin_manifests,
    check_architecture,
    check_manifests,
    check_stem_selection,
)

FIXTURES = Path(__file__).parent / "fixtures"


def tiny_params() -> dict[str, Any]:
    data = torch.load(FIXTURES / "demucs_four.pt", weights_only=True)
    params: dict[str, Any] = data["kwargs"]
    return params


def test_demucs_plugin_import_is_torch_free() -> None:
    code = (
        "import sys, splifft_plugin_demucs as p; p.splifft_architectures(); "
        "p.SPEC.parse_params({'sources': ['vocals']}); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_demucs_plugin_registers_htdemucs_and_hdemucs() -> None:
    assert splifft_architectures() == [SPEC, HDEMUCS_SPEC]
    assert (SPEC.name, SPEC.msst_model_types) == ("htdemucs", ("htdemucs",))
    assert (HDEMUCS_SPEC.name, HDEMUCS_SPEC.msst_model_types) == ("hdemucs", ("hdemucs",))


def test_demucs_manifests_validate() -> None:
    plugin = "splifft-plugin-demucs"
    htdemucs = check_manifests(SPEC, plugin=plugin, build="all")
    hdemucs = check_manifests(HDEMUCS_SPEC, plugin=plugin, build="all")
    assert htdemucs == [
        "htdemucs-rouard-6s",
        "htdemucs-rouard-base",
        "htdemucs-rouard-ft",
        "htdemucs-rouard-zfturbo_vocals",
    ]
    assert hdemucs == ["hdemucs-defossez-inagoy_drumsep", "hdemucs-defossez-mmi"]
    for spec in (SPEC, HDEMUCS_SPEC):
        for manifest in builtin_manifests(spec.name):
            params = spec.parse_params(manifest.params)
            assert isinstance(params, HTDemucsParams | HDemucsParams)
            assert len(manifest.weight_resources()) == params.num_models, manifest.identifier


def test_demucs_stem_selection() -> None:
    """A bag drops the models no asked stem needs (`htdemucs_ft`: one model a stem); a single
    model computes every source and keeps the asked ones."""
    bag = {**tiny_params(), "bag_weights": [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0]]}
    counts = check_stem_selection(SPEC, bag, ["drums"], saves="parameters")
    assert counts.pruned_parameters * 2 == counts.full_parameters
    check_stem_selection(SPEC, tiny_params(), ["vocals", "bass"], saves=None)


@pytest.mark.parametrize("bag", [False, True])
def test_demucs_contract_kit(bag: bool) -> None:
    params = tiny_params()
    if bag:
        params["bag_weights"] = [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 1.0]]
    check_architecture(SPEC, params)


def test_demucs_separator_loads_a_demucs_package() -> None:
    params = SPEC.parse_params(tiny_params())
    separator = Separator.from_spec(
        SPEC,
        params,
        [FIXTURES / "demucs_four_package.th"],
        inference=InferenceConfig(overlap_ratio=0.25, window_shape="triangular"),
        stems=["vocals", "drums"],
    )
    audio = 0.1 * torch.randn(2, 3000, generator=torch.Generator().manual_seed(0))
    stems = separator.separate(audio, sample_rate=256)
    assert set(stems) == {"vocals", "drums"}
    assert all(v.shape == (2, 3000) and torch.isfinite(v).all() for v in stems.values())


def _demucs_engine(params: HTDemucsParams, **extra: Any) -> InferenceConfig:
    if "chunk_layout" not in InferenceConfig.model_fields:
        pytest.skip("the core's engine has no demucs chunk layout")
    return InferenceConfig(
        overlap_ratio=0.25,
        window_shape="triangular",
        chunk_layout="centered_tail",
        normalize=False,
        batch_size=3,
        **extra,
    )


def _engine_separate(
    params: HTDemucsParams, state: dict[str, torch.Tensor], inference: InferenceConfig
) -> torch.Tensor:
    mix: torch.Tensor = torch.load(FIXTURES / "demucs_mix.pt", weights_only=True)["mix"]
    separator = Separator.from_spec(SPEC, params, None, inference=inference)
    separator.model.network.load_state_dict(state, strict=True)
    stems = separator.separate(mix, sample_rate=params.sample_rate)
    return torch.stack([stems[name] for name in params.sources])


@pytest.mark.parametrize("name", ["four", "six"])
def test_demucs_engine_equals_apply_model(name: str) -> None:
    """splifft's engine with demucs' chunk layout and transition window on a "30 s" mix equals
    `demucs.apply.apply_model(model, mix, shifts=0, split=True, overlap=0.25)`."""
    data = torch.load(FIXTURES / f"demucs_{name}.pt", weights_only=True)
    params = HTDemucsParams(**data["kwargs"])
    out = _engine_separate(params, data["state"], _demucs_engine(params))
    torch.testing.assert_close(out, data["apply_split"], atol=1e-4, rtol=0)


def test_demucs_engine_equals_apply_model_with_shifts() -> None:
    """`shifts=2` with the offsets demucs drew (recorded by the fixture generator)."""
    data = torch.load(FIXTURES / "demucs_four.pt", weights_only=True)
    params = HTDemucsParams(**data["kwargs"])
    offsets = tuple(int(o) for o in data["shift_offsets"])
    out = _engine_separate(params, data["state"], _demucs_engine(params, shift_offsets=offsets))
    torch.testing.assert_close(out, data["apply_shifts2"], atol=1e-4, rtol=0)


def test_demucs_engine_equals_apply_model_for_a_bag() -> None:
    """A bag of 2 models with per-source weights is one separator."""
    data = torch.load(FIXTURES / "demucs_bag.pt", weights_only=True)
    params = HTDemucsParams(**data["kwargs"], bag_weights=data["bag_weights"])
    state = {
        f"models.{m}.{key}": value
        for m, member in enumerate(data["states"])
        for key, value in member.items()
    }
    out = _engine_separate(params, state, _demucs_engine(params))
    torch.testing.assert_close(out, data["apply_split"], atol=1e-4, rtol=0)
