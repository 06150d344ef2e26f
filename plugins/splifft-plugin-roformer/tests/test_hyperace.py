"""unwa's HyperACE BS-RoFormer (`bs_roformer_hyperace`, v1 and v2).

Against splifft 0.0.9's own `BSRoformer` through `fixtures/make_hyperace_goldens.py`: the
weights are not stored but drawn from generators seeded by each key (`fill_weights`, the same
function as the generator's), so the fixtures hold only params, a checksum, input and output.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from splifft_plugin_roformer import BS_ROFORMER_HYPERACE
from splifft_plugin_roformer.network import Roformer

from splifft_core.manifest import HfResource
from splifft_core.testing import (
    builtin_manifests,
    check_architecture,
    check_manifests,
    check_stem_selection,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN_FILES = sorted(FIXTURES.glob("hyperace_*.pt"))
PLUGIN = "splifft-plugin-roformer"

TINY: dict[str, Any] = {
    "chunk_size": 4096,
    "output_stem_names": ["vocals", "other"],
    "dim": 8,
    "depth": 1,
    "stereo": True,
    "heads": 2,
    "dim_head": 4,
    "time_transformer_depth": 1,
    "freq_transformer_depth": 1,
    "stft_n_fft": 256,
    "stft_hop_length": 64,
    "stft_win_length": 256,
    "freqs_per_bands": [32, 32, 32, 32, 1],
    "hyperace_version": 2,
    "num_hyperedges": 4,
}


def fill_weights(shapes: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    """Each tensor from a generator seeded by its key's CRC-32, moved well off its init."""
    out: dict[str, torch.Tensor] = {}
    for key in sorted(shapes):
        shape = shapes[key]
        r = torch.randn(shape, generator=torch.Generator().manual_seed(zlib.crc32(key.encode())))
        last = key.rsplit(".", 1)[-1]
        if last == "gamma" and len(shape) == 4:
            value = 0.5 * r
        elif last == "bias":
            value = 0.1 * r
        elif len(shape) == 1 and last in ("gamma", "weight"):
            value = 1.0 + 0.2 * r
        elif last == "global_proto":
            value = r
        else:
            value = r / max(1, r.numel() // shape[0]) ** 0.5
        out[key] = value
    return out


def test_fixtures_exist() -> None:
    assert [p.stem for p in GOLDEN_FILES] == ["hyperace_v1_1stem", "hyperace_v2_2stem"]
    assert sum(p.stat().st_size for p in GOLDEN_FILES) < 1_000_000


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_matches_splifft_009(path: Path) -> None:
    golden: dict[str, Any] = torch.load(path, weights_only=True)
    params = BS_ROFORMER_HYPERACE.parse_params(golden["params"])
    network = BS_ROFORMER_HYPERACE.build_model(params)
    assert isinstance(network, Roformer)
    ours = network.state_dict()
    # the reference computes its rotary frequencies; the checkpoints (and we) store them
    rotary = {k: v for k, v in ours.items() if k.endswith("rotary_embed.freqs")}
    weights = fill_weights({k: v.shape for k, v in ours.items() if k not in rotary})
    assert len(weights) == golden["num_keys"]
    total = float(sum(v.double().abs().sum() for v in weights.values()))
    assert total == pytest.approx(golden["checksum"], rel=1e-9)
    network.load_state_dict({**weights, **rotary}, strict=True)
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
    # float32 round-off alone moves the reference itself by about 2e-4 of the scale
    assert error32 <= 1e-3 * scale, (error32, scale)


def test_contract() -> None:
    check_architecture(BS_ROFORMER_HYPERACE, TINY)
    check_architecture(BS_ROFORMER_HYPERACE, {**TINY, "hyperace_version": 1})


def test_stem_selection() -> None:
    check_stem_selection(BS_ROFORMER_HYPERACE, TINY, ["other"], saves="compute")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stereo": False}, "stereo"),
        ({"hyperace_heads": 3}, "does not divide"),
        ({"hyperace_version": 3}, "hyperace_version"),
    ],
)
def test_params_reject(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BS_ROFORMER_HYPERACE.parse_params({**TINY, **change})


def test_default_hyperedges() -> None:
    v1 = BS_ROFORMER_HYPERACE.parse_params({**TINY, "hyperace_version": 1, "num_hyperedges": None})
    v2 = BS_ROFORMER_HYPERACE.parse_params({**TINY, "num_hyperedges": None})
    assert (v1.hyperedges, v2.hyperedges) == (16, 32)  # type: ignore[attr-defined]


def test_manifests() -> None:
    checked = check_manifests(
        BS_ROFORMER_HYPERACE,
        plugin=PLUGIN,
        build=["bs_roformer_hyperace-lu-unwa_v2_vocals"],
        device="cpu",
    )
    assert len(checked) == 3
    by_id = {m.identifier: m for m in builtin_manifests("bs_roformer_hyperace")}
    assert set(by_id) == {
        "bs_roformer_hyperace-lu-unwa_v1_instrum",
        "bs_roformer_hyperace-lu-unwa_v2_instrum",
        "bs_roformer_hyperace-lu-unwa_v2_vocals",
    }
    for manifest in by_id.values():
        (resource,) = manifest.resources
        assert isinstance(resource, HfResource)
        assert resource.repo_id == "pcunwa/BS-Roformer-HyperACE"
        assert resource.sha256 is not None and manifest.checkpoints


def test_import_msst_with_its_model_type(plugin_host: Any, tmp_path: Path) -> None:
    """unwa's yaml is a plain bs_roformer one: `--model-type bs_roformer_hyperace_v2` imports it,
    the checkpoint loads strictly, and the manifest separates as the params do."""
    import splifft_plugin_roformer
    import yaml

    import splifft
    from splifft_core.errors import CheckpointError, MsstConfigError
    from splifft_core.msst import import_msst
    from splifft_core.separator import Separator

    plugin_host(splifft_plugin_roformer)
    model = {k: v for k, v in TINY.items() if k not in ("chunk_size", "output_stem_names")}
    model.pop("hyperace_version")
    model["num_stems"] = 2
    config = {
        "audio": {"chunk_size": TINY["chunk_size"], "sample_rate": 44100, "num_channels": 2},
        "model": model,
        "training": {"instruments": ["vocals", "other"], "target_instrument": None},
        "inference": {"batch_size": 1, "num_overlap": 2},
    }
    path = tmp_path / "config_hyperace_v2.yaml"
    path.write_text(yaml.safe_dump(config))
    params = BS_ROFORMER_HYPERACE.parse_params(TINY)
    network = BS_ROFORMER_HYPERACE.build_model(params)
    state = fill_weights({k: v.shape for k, v in network.state_dict().items()})
    checkpoint = tmp_path / "bs_roformer_hyperace_v2.ckpt"
    torch.save(state, checkpoint)

    with pytest.raises(MsstConfigError, match="no installed plugin imports MSST model type"):
        import_msst(path, checkpoint, model_type="bs_roformer_hyperace_v3")
    # without the model type, unwa's yaml (no HyperACE keys) reads as bs_roformer, and the
    # HyperACE weights do not fit it
    plain = tmp_path / "config_plain.yaml"
    del config["model"]["num_hyperedges"]
    plain.write_text(yaml.safe_dump(config))
    with pytest.raises(CheckpointError, match=r"unexpected keys.*bs_roformer_hyperace_v2"):
        import_msst(plain, checkpoint)
    result = import_msst(path, checkpoint, model_type="bs_roformer_hyperace_v2")
    assert result.manifest.architecture == "bs_roformer_hyperace"
    assert result.manifest.params["hyperace_version"] == 2
    audio = 0.3 * torch.randn(2, 3 * 4096, generator=torch.Generator().manual_seed(5))
    got = splifft.load(result.manifest.identifier, device="cpu").separate(audio, sample_rate=44100)
    reference = Separator.from_spec(
        BS_ROFORMER_HYPERACE,
        params,
        state,
        inference=splifft.load(result.manifest.identifier, device="cpu").inference,
        device="cpu",
    ).separate(audio, sample_rate=44100)
    for stem in ("vocals", "other"):
        assert float(reference[stem].abs().max()) > 1e-3
        torch.testing.assert_close(got[stem], reference[stem])
