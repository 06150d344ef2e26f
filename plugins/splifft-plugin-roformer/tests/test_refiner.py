"""unwa's large-v2 mask head (`bs_roformer` with `mask_estimator_refiner_depth`).

Against splifft 0.0.9's own `BSRoformer` (`axial_refiner_large_v2`) through
`fixtures/make_refiner_goldens.py`: the weights are not stored but drawn from generators seeded
by each key (`fill_weights`, the same function as the generator's), so the fixtures hold only
params, a checksum, input and output.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import pytest
import torch
from splifft_plugin_roformer import BS_ROFORMER
from splifft_plugin_roformer.network import RefinedMaskEstimator, Roformer

from splifft_core.manifest import HfResource
from splifft_core.testing import (
    builtin_manifests,
    check_architecture,
    check_manifests,
    check_stem_selection,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN_FILES = sorted(FIXTURES.glob("refiner_*.pt"))
PLUGIN = "splifft-plugin-roformer"
MANIFEST = "bs_roformer-lu-unwa_large_inst_v2"

TINY: dict[str, Any] = {
    "chunk_size": 4096,
    "output_stem_names": ["vocals", "other"],
    "dim": 8,
    "depth": 1,
    "stereo": True,
    "heads": 2,
    "dim_head": 4,
    "stft_n_fft": 256,
    "stft_hop_length": 64,
    "stft_win_length": 256,
    "freqs_per_bands": [32, 32, 32, 32, 1],
    "mask_estimator_refiner_depth": 2,
}


def fill_weights(shapes: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    """Each tensor from a generator seeded by its key's CRC-32, moved well off its init."""
    out: dict[str, torch.Tensor] = {}
    for key in sorted(shapes):
        shape = shapes[key]
        r = torch.randn(shape, generator=torch.Generator().manual_seed(zlib.crc32(key.encode())))
        last = key.rsplit(".", 1)[-1]
        if last == "bias":
            value = 0.1 * r
        elif len(shape) == 1 and last in ("gamma", "weight"):
            value = 1.0 + 0.2 * r
        else:
            value = r / max(1, r.numel() // shape[0]) ** 0.5
        out[key] = value
    return out


def test_fixtures_exist() -> None:
    assert [p.stem for p in GOLDEN_FILES] == ["refiner_depth1_2stem", "refiner_depth4_1stem"]
    assert sum(p.stat().st_size for p in GOLDEN_FILES) < 1_000_000


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_matches_splifft_009(path: Path) -> None:
    golden: dict[str, Any] = torch.load(path, weights_only=True)
    params = BS_ROFORMER.parse_params(golden["params"])
    network = BS_ROFORMER.build_model(params)
    assert isinstance(network, Roformer)
    assert all(isinstance(m, RefinedMaskEstimator) for m in network.mask_estimators)
    ours = network.state_dict()
    # the reference computes its rotary frequencies; MSST-style checkpoints (and we) store them
    rotary = {k for k in ours if k.endswith("rotary_embed.freqs")}
    weights = fill_weights({k: v.shape for k, v in ours.items() if k not in rotary})
    assert len(weights) == golden["num_keys"]
    total = float(sum(v.double().abs().sum() for v in weights.values()))
    assert total == pytest.approx(golden["checksum"], rel=1e-9)
    # the refiner's rotary frequencies are filled in when a checkpoint lacks them
    main_rotary = {k: ours[k] for k in rotary if not k.startswith("mask_estimators.")}
    state = BS_ROFORMER.transform_checkpoint({**weights, **main_rotary}, params)
    network.load_state_dict(state, strict=True)
    network.eval()
    audio: torch.Tensor = golden["audio"]
    expected: torch.Tensor = golden["output"]
    assert audio.shape[-1] // params.stft_hop_length + 1 >= 100  # type: ignore[attr-defined]
    with torch.no_grad():
        out64 = network.double()(audio.double())
        out32 = network.float()(audio)
    scale = float(expected.abs().max())
    error64 = float((out64 - expected).abs().max())
    error32 = float((out32 - expected).abs().max())
    assert out64.shape == expected.shape
    print(f"{path.stem}: max abs error {error64:.3g} (float32: {error32:.3g}), scale {scale:.3g}")
    assert error64 <= 1e-4 * scale, (error64, scale)
    assert error32 <= 1e-3 * scale, (error32, scale)


def test_contract() -> None:
    check_architecture(BS_ROFORMER, TINY)


def test_stem_selection() -> None:
    check_stem_selection(BS_ROFORMER, TINY, ["other"], saves="compute")


def test_manifest() -> None:
    checked = check_manifests(BS_ROFORMER, plugin=PLUGIN, build=[MANIFEST], device="cpu")
    assert MANIFEST in checked
    (manifest,) = [m for m in builtin_manifests("bs_roformer") if m.identifier == MANIFEST]
    (resource,) = manifest.resources
    assert isinstance(resource, HfResource)
    assert resource.repo_id == "pcunwa/BS-Roformer-Large-Inst"
    assert resource.sha256 == "09251ab8b5bb892414a6ab8aa80a1be30c17852d5e7f4e76943610de049e4bc4"
    assert manifest.params["mask_estimator_refiner_depth"] == 4
