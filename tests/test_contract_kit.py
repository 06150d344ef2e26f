"""The contract kit's own checks pass on a right plugin and fail on a deliberately wrong one."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch

from splifft_core.models import ArchitectureSpec
from splifft_core.testing import (
    builtin_manifests,
    check_golden_chunk,
    check_manifests,
    check_msst_demix,
    check_msst_golden,
    check_msst_import,
    check_stem_selection,
    perturb_weights,
)
from tests.fake_plugins import identity
from tests.fake_plugins.identity import IDENTITY, GainParams
from tests.fake_plugins.msst_gain import GAIN_NET

THREE: dict[str, Any] = {"stems": ["vocals", "drums", "bass"], "gains": [0.25, 0.5, 2.0]}


def manifest(**changes: Any) -> dict[str, Any]:
    """The fake identity plugin's manifest, changed."""
    (data,) = identity.splifft_manifests()
    return {**data, **changes}


# -- check_manifests ----------------------------------------------------------------------------


def test_manifests_of_a_plugin_hook_are_checked() -> None:
    checked = check_manifests(IDENTITY, identity.splifft_manifests(), build="all")
    assert checked == ["identity-test-gain"]
    other = manifest(identifier="other-test-gain", architecture="other")
    assert check_manifests(IDENTITY, [*identity.splifft_manifests(), other]) == checked


def test_builtin_manifests_are_those_of_the_registry() -> None:
    assert [m.identifier for m in builtin_manifests("hpss")] == ["hpss-fitzgerald-median"]
    with pytest.raises(AssertionError, match="no manifest names this architecture"):
        check_manifests(IDENTITY)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stems": ["drums", "vocals"]}, "stems"),
        ({"sample_rate": 48000}, "sample_rate"),
        ({"params": {"stems": ["vocals"], "gains": [1.0], "mystery": 1}}, "params rejected"),
        ({"plugin": "someone-else"}, "plugin is 'someone-else'"),
    ],
)
def test_manifest_check_fails_on_a_wrong_manifest(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_manifests(IDENTITY, [manifest(**changes)], plugin="fake-identity")


def test_manifest_sizes_must_fit_the_params() -> None:
    tensors = 2 * 4  # two float32 gains
    resource = {"kind": "hf", "repo_id": "org/gain", "filename": "gain.ckpt"}
    fits = manifest(resources=[{**resource, "size": tensors + 700}])
    assert check_manifests(IDENTITY, [fits], build=0, size_slack=1024) == ["identity-test-gain"]
    for size in (tensors, tensors + 5000):
        wrong = manifest(resources=[{**resource, "size": size}])
        with pytest.raises(AssertionError, match="describe 8 bytes"):
            check_manifests(IDENTITY, [wrong], size_slack=1024)
    with pytest.raises(AssertionError, match="publishes its weights' size"):
        check_manifests(IDENTITY, [manifest()], size_slack=1024)
    with pytest.raises(AssertionError, match="unknown manifests"):
        check_manifests(IDENTITY, [manifest()], build=["identity-test-nothing"])


# -- check_stem_selection -----------------------------------------------------------------------


def keep_the_next_head(
    network: Any, params: GainParams, stems: tuple[str, ...]
) -> tuple[Any, tuple[str, ...]]:
    """A broken stem selection: keeps the gain after each asked stem's, under the asked name."""
    keep = [(params.stems.index(s) + 1) % len(params.stems) for s in stems]
    network.gains = torch.nn.Parameter(network.gains.detach()[keep].clone())
    return network, stems


class Slice(torch.nn.Module):
    def __init__(self, network: torch.nn.Module, keep: list[int]) -> None:
        super().__init__()
        self.network = network
        self.keep = keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.network(x)
        return out[:, self.keep]


def slice_the_output(
    network: Any, params: GainParams, stems: tuple[str, ...]
) -> tuple[Any, tuple[str, ...]]:
    """A right but saving-nothing stem selection: computes every stem, returns some."""
    return Slice(network, [params.stems.index(s) for s in stems]), stems


def with_selection(name: str) -> ArchitectureSpec:
    return dataclasses.replace(IDENTITY, stem_selection=f"tests.test_contract_kit:{name}")


def test_stem_selection_passes_and_counts() -> None:
    counts = check_stem_selection(IDENTITY, THREE, ["bass", "vocals"])
    assert (counts.full_parameters, counts.pruned_parameters) == (3, 2)
    assert (counts.full_active, counts.pruned_active) == (3, 2)
    check_stem_selection(with_selection("slice_the_output"), THREE, ["drums"], saves=None)


def test_stem_selection_of_the_wrong_head_fails() -> None:
    with pytest.raises(AssertionError, match="pruned stem 'drums' differs"):
        check_stem_selection(with_selection("keep_the_next_head"), THREE, ["drums"])


@pytest.mark.parametrize("saves", ["parameters", "compute"])
def test_stem_selection_that_saves_nothing_fails(saves: Any) -> None:
    message = "not smaller" if saves == "parameters" else "runs every parameter"
    with pytest.raises(AssertionError, match=message):
        check_stem_selection(with_selection("slice_the_output"), THREE, ["drums"], saves=saves)


@pytest.mark.parametrize("stems", [[], ["vocals", "drums", "bass"], ["piano"], ["bass", "bass"]])
def test_stem_selection_needs_a_proper_subset(stems: list[str]) -> None:
    with pytest.raises(AssertionError, match="proper subset"):
        check_stem_selection(IDENTITY, THREE, stems)


def test_stem_selection_needs_one() -> None:
    with pytest.raises(AssertionError, match="no stem_selection"):
        check_stem_selection(GAIN_NET, THREE, ["drums"])


def test_perturbed_weights_leave_their_init_reproducibly() -> None:
    layers = [torch.nn.Linear(4, 3) for _ in range(2)]
    for layer in layers:
        torch.nn.init.zeros_(layer.bias)
        torch.nn.init.ones_(layer.weight)
        perturb_weights(layer, seed=3)
    assert torch.equal(layers[0].weight, layers[1].weight)
    assert bool((layers[0].bias != 0).all()) and bool((layers[0].weight != 1).all())


# -- against references -------------------------------------------------------------------------


def test_golden_chunk() -> None:
    state = {"gains": torch.tensor([0.25, 0.5, 2.0])}
    inputs = torch.randn(2, 2, 1024, generator=torch.Generator().manual_seed(0))
    golden = inputs[:, None] * state["gains"][None, :, None, None]
    check_golden_chunk(IDENTITY, THREE, state, inputs, golden)
    separator = check_golden_chunk(IDENTITY, THREE, state, inputs, golden, stems=["bass"])
    assert separator.model_stems == ("bass",)
    with pytest.raises(AssertionError, match="differs from the golden one"):
        check_golden_chunk(IDENTITY, THREE, state, inputs, golden.flip(1))
    with pytest.raises(AssertionError, match=r"\(2, 3, 2, 1024\) != \(2, 2, 2, 1024\)"):
        check_golden_chunk(IDENTITY, THREE, state, inputs, golden[:, :2])
    with pytest.raises(AssertionError, match="no row per stem"):
        check_golden_chunk(IDENTITY, THREE, state, inputs, golden[:, :2], stems=["bass"])


def msst_config() -> dict[str, Any]:
    return {
        "audio": {"chunk_size": 1000, "sample_rate": 44100, "num_channels": 2},
        "model": {"gains": [0.5, 2.0]},
        "training": {"instruments": ["vocals", "other"], "target_instrument": None},
        "inference": {"num_overlap": 4, "batch_size": 2},
    }


def test_msst_demix() -> None:
    generator = torch.Generator().manual_seed(1)
    tracks = [torch.randn(2, n, generator=generator) for n in (3517, 800)]
    gains = torch.tensor([0.5, 2.0])[:, None, None]
    golden = {
        "msst_config": msst_config(),
        "tracks": tracks,
        "outputs": [gains * t for t in tracks],
    }
    state = {"gains": gains.flatten()}
    check_msst_demix(GAIN_NET, golden, state, batch_size=3)
    with pytest.raises(AssertionError, match="demix differs from MSST's"):
        check_msst_demix(GAIN_NET, golden, {"gains": torch.tensor([0.5, 2.001])})


def test_msst_import_round_trip() -> None:
    state = {"gains": torch.tensor([0.5, 2.0])}
    inputs = torch.randn(1, 2, 1000, generator=torch.Generator().manual_seed(2))
    expected = inputs[:, None] * state["gains"][None, :, None, None]
    imported = check_msst_import(GAIN_NET, msst_config(), state, inputs=inputs, expected=expected)
    assert imported.architecture == "gain_net" and imported.stems == ["vocals", "other"]
    assert imported.inference.overlap_ratio == 0.75
    with pytest.raises(AssertionError, match="imported model differs"):
        check_msst_import(GAIN_NET, msst_config(), state, inputs=inputs, expected=2 * expected)


def test_msst_golden() -> None:
    gains = torch.tensor([0.5, 2.0])
    inputs = torch.randn(2, 2, 1000, generator=torch.Generator().manual_seed(3))
    output = inputs[:, None] * gains[None, :, None, None]
    fixture = {"msst_config": msst_config(), "state_dict": {"gains": gains}, "input": inputs}
    imported = check_msst_golden(GAIN_NET, {**fixture, "output": output})
    assert imported.identifier == "gain_net-custom-model"
    with pytest.raises(AssertionError, match="differs from the golden one"):
        check_msst_golden(GAIN_NET, {**fixture, "output": output.flip(1)})
