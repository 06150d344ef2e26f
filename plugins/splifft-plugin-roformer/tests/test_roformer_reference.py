"""Our roformers against the reference implementations, through golden fixtures.

`fixtures/make_roformer_goldens.py` built each reference (audio-separator's vendored MSST code
with rotary-embedding-torch 0.6.x; lucidrains' bs-roformer 0.4.1) with random weights and saved
its state dict, an input batch and its output. Each state dict loads into ours as it is.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from splifft_plugin_roformer import BS_ROFORMER, MEL_ROFORMER
from splifft_plugin_roformer.network import Roformer, mel_bands

from splifft_core.config import InferenceConfig
from splifft_core.models import resolve
from splifft_core.separator import Separator
from splifft_core.testing import with_float64_network

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN_FILES = sorted(
    path
    for reference in ("audiosep", "lucid", "msst")
    for path in FIXTURES.glob(f"roformer_{reference}_*.pt")
)


SPECS = {"bs_roformer": BS_ROFORMER, "mel_roformer": MEL_ROFORMER}


def load_golden(path: Path) -> dict[str, Any]:
    """The fixture with its packed state dict unpacked (float16 values, float32 rotary freqs)."""
    raw: dict[str, Any] = torch.load(path, weights_only=True)
    values: torch.Tensor = raw["values"]
    state_dict: dict[str, torch.Tensor] = {}
    offset = 0
    for key, shape in zip(raw["keys"], raw["shapes"], strict=True):
        size = math.prod(shape)
        state_dict[key] = values[offset : offset + size].reshape(shape)
        offset += size
    state_dict.update(raw["rotary"])
    raw["state_dict"] = state_dict
    return raw


def test_fixtures_cover_the_matrix() -> None:
    names = [p.stem for p in GOLDEN_FILES]
    for reference in ("audiosep", "lucid"):
        ours = [n for n in names if n.startswith(f"roformer_{reference}_")]
        assert len(ours) >= 6, ours
        for part in (
            "mono",
            "stereo",
            "1stem",
            "2stem",
            "4stem",
            "bs_",
            "mel_",
            "60bands",
            "64bands",
        ):
            assert any(part in n for n in ours), (reference, part)
    assert any("linear" in n and "nolinear" not in n for n in names)
    # MSST's current code: zero_dc (its default) and skip connections
    assert any(n.startswith("roformer_msst_") and "skip" in n for n in names)
    for depth in (1, 2, 3):
        assert any(f"mask{depth}" in n for n in names)


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem.removeprefix("roformer_"))
def test_matches_reference(path: Path) -> None:
    golden = load_golden(path)
    spec = SPECS[golden["architecture"]]
    separator = Separator.from_spec(
        spec, golden["params"], golden["state_dict"], inference=InferenceConfig(), device="cpu"
    )
    with torch.inference_mode():
        out = separator.model(golden["input"].float())
    expected = golden["output"]
    assert out.shape == expected.shape
    assert (out - expected).abs().max().item() <= 1e-4


@pytest.mark.parametrize(
    "path",
    [p for p in GOLDEN_FILES if "4stem" in p.stem],
    ids=lambda p: p.stem.removeprefix("roformer_"),
)
def test_stem_selection_runs_only_the_chosen_heads(path: Path) -> None:
    golden = load_golden(path)
    spec = SPECS[golden["architecture"]]
    chosen = ("bass", "vocals")
    separator = Separator.from_spec(
        spec, golden["params"], golden["state_dict"], device="cpu", stems=chosen
    )
    network = separator.model.network
    assert isinstance(network, Roformer)
    assert sorted(network.active_stems) == [0, 2]
    names = golden["params"]["output_stem_names"]
    assert [names[i] for i in network.active_stems] == list(separator.model.stems)
    with torch.inference_mode():
        out = separator.model(golden["input"].float())
    expected = golden["output"][:, list(network.active_stems)]
    assert (out - expected).abs().max().item() <= 1e-4


def test_mel_bands_match_librosa() -> None:
    supports: dict[str, torch.Tensor] = torch.load(
        FIXTURES / "roformer_mel_bands.pt", weights_only=True
    )
    assert supports
    for key, packed in supports.items():
        sample_rate, n_fft, num_bands = (int(v) for v in key.split("_"))
        expected = np.unpackbits(packed.numpy(), axis=-1, count=n_fft // 2 + 1).astype(bool)
        assert np.array_equal(mel_bands(sample_rate, n_fft, num_bands), expected), key


@pytest.mark.parametrize(
    "path",
    [p for p in GOLDEN_FILES if p.stem.startswith("roformer_audiosep_")],
    ids=lambda p: p.stem.removeprefix("roformer_"),
)
def test_msst_import_matches_reference(path: Path) -> None:
    """An MSST-style yaml of the reference config imports to params that reproduce it."""
    golden = load_golden(path)
    spec = SPECS[golden["architecture"]]
    stems = golden["params"]["output_stem_names"]
    yaml_text = yaml.safe_dump(
        {
            "audio": {
                "chunk_size": golden["params"]["chunk_size"],
                "num_channels": 2 if golden["reference_kwargs"]["stereo"] else 1,
                "sample_rate": golden["params"].get("sample_rate", 44100),
            },
            # the reference (audio-separator's copy of MSST) does not zero the DC bin
            "model": {**golden["reference_kwargs"], "zero_dc": False},
            "training": {"instruments": stems, "target_instrument": None},
            "inference": {"batch_size": 2, "num_overlap": 4},
        }
    )
    assert spec.msst_import is not None
    imported = resolve(spec.msst_import)(yaml.safe_load(yaml_text))
    assert imported["inference"]["overlap_ratio"] == 0.75
    separator = Separator.from_spec(spec, imported["params"], golden["state_dict"], device="cpu")
    with torch.inference_mode():
        out = separator.model(golden["input"].float())
    assert (out - golden["output"]).abs().max().item() <= 1e-4


def _demix_input(seconds: int, rate: int) -> torch.Tensor:
    """The generator's deterministic 20 s stereo test signal."""
    t = np.arange(seconds * rate, dtype=np.float64) / rate
    left = 0.3 * np.sin(2 * np.pi * 220.0 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    left += 0.2 * np.sin(2 * np.pi * 1234.5 * t + 0.3) + 0.1 * np.sin(2 * np.pi * 7000.0 * t**1.1)
    right = 0.25 * np.sin(2 * np.pi * 330.0 * t + 1.0) + 0.15 * np.sign(np.sin(2 * np.pi * 3 * t))
    return torch.from_numpy(np.stack([left, right]).astype(np.float32))


def test_full_engine_matches_msst_demix() -> None:
    """20 s stereo through `Separator.separate` vs MSST's own `demix` with the same weights."""
    golden = torch.load(FIXTURES / "roformer_demix.pt", weights_only=True)
    weights = load_golden(FIXTURES / golden["weights"])
    chunk = golden["chunk_size"]
    inference = InferenceConfig(
        chunk_size=chunk,
        hop_size_override=chunk // golden["num_overlap"],
        batch_size=golden["batch_size"],
        window_shape="linear_fade",
        fade_size=chunk // 10,
        padding_mode="reflect",
        chunk_layout="msst",
    )
    separator = Separator.from_spec(
        BS_ROFORMER, weights["params"], weights["state_dict"], inference=inference, device="cpu"
    )
    assert golden["network_dtype"] == "float64"  # the reference ran the network in float64
    separator = with_float64_network(separator)
    mix = _demix_input(20, 44100)
    assert mix.shape[-1] == golden["length"]
    out = separator.separate(mix, sample_rate=44100)
    result = torch.stack([out[s] for s in weights["params"]["output_stem_names"]])
    stride, edge = golden["stride"], golden["edge"]
    assert (result[..., ::stride] - golden["strided"]).abs().max().item() <= 1e-4
    assert (result[..., :edge] - golden["head"]).abs().max().item() <= 1e-4
    assert (result[..., -edge:] - golden["tail"]).abs().max().item() <= 1e-4
