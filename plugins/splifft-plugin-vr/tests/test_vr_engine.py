"""The chunk model inside the core's engine against audio-separator's whole-track VR run."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import torch
from splifft_plugin_vr import SPEC
from splifft_plugin_vr.uvr import CHUNKED_INFERENCE

from splifft_core.config import InferenceConfig
from splifft_core.separator import Separator

FIXTURES = Path(__file__).parent / "fixtures"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_vr_fixtures", FIXTURES / "make_vr_fixtures.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(
    case: dict[str, object], wave: torch.Tensor, chunk_size: int | None = None
) -> dict[str, torch.Tensor]:
    params = {**case, "output_stem_names": ["instrum", "vocals"]}
    if chunk_size is not None:
        params["chunk_size"] = chunk_size
    sep = Separator.from_spec(
        SPEC, params, inference=InferenceConfig(**CHUNKED_INFERENCE), device="cpu"
    )
    net = sep.model.network.net
    assert isinstance(net, torch.nn.Module)
    net.load_state_dict(generator().seeded_state_dict(net.state_dict()))
    with torch.no_grad():
        return sep.separate(wave, 44100)


def test_shorter_than_a_chunk_is_exact() -> None:
    """One zero-filled chunk: the trailing zeros are cut, so the result is UVR's whole-track one."""
    golden = torch.load(FIXTURES / "vr_1band_aspp.pt", weights_only=True)
    wave = torch.from_numpy(generator().test_input(1.2))
    stems = run(golden["case"], wave)
    ref = golden["stems"]
    n = ref.shape[-1]
    scale = float(ref.abs().max())
    for i, name in enumerate(("instrum", "vocals")):
        assert float((stems[name][:, :n] - ref[i]).abs().max()) <= 1e-4 * scale


def test_multi_chunk_difference() -> None:
    """2 s chunks over 4 s (crossfaded over 0.2 s): each chunk normalizes by its own max and
    sees only its own frames, so this is close to, not equal to, the whole-track run."""
    golden = torch.load(FIXTURES / "multichunk_1band_aspp.pt", weights_only=True)
    wave = torch.from_numpy(generator().test_input(4.0, seed=1))
    stems = run(golden["case"], wave, chunk_size=88200)
    ref = golden["primary"].float()
    n = ref.shape[-1]
    scale = float(ref.abs().max())
    error = float((stems["instrum"][:, :n] - ref).abs().max())
    print(f"multi-chunk max abs error {error:.3g}, scale {scale:.3g}")
    assert error <= 0.02 * scale
