"""MDX-Net against audio-separator 0.47.1's `MDXSeparator.demix` on a tiny random ONNX graph.

Fixtures: `fixtures/make_mdxnet_fixtures.py` (a TFC-TDF-like network of MDX-Net's input layout,
random weights, exported to ONNX; the reference run with segment size = dim_t, overlap 0.25,
batch 1). audio-separator's `demix` returns the network's stem before volume compensation; UVR
multiplies it by `compensate` (`SeperateMDX.demix`), as we do, so the goldens are scaled here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from splifft_plugin_mdxnet import SPEC
from splifft_plugin_mdxnet.network import MdxNetOnnx

from splifft_core.config import InferenceConfig
from splifft_core.separator import Separator

FIXTURES = Path(__file__).parent / "fixtures"
GRAPH = FIXTURES / "mdxnet_tiny.onnx"
N_FFT, DIM_F, DIM_T, COMPENSATE = 2048, 64, 32, 1.035
CHUNK = 1024 * (DIM_T - 1)
HOP = int((1 - 0.25) * CHUNK)
"""audio-separator's `step` at overlap 0.25."""
PARAMS = {
    "n_fft": N_FFT, "dim_f": DIM_F, "dim_t": DIM_T, "compensate": COMPENSATE,
    "output_stem_names": ["vocals"],
}  # fmt: skip
RULES = {"instrum": {"plus": ["mixture"], "minus": ["vocals"]}}
TOLERANCE = 1e-4


def mixture() -> np.ndarray:
    mix: np.ndarray = np.load(FIXTURES / "mdxnet_input.npz")["mix"].astype(np.float32)
    return mix


def golden(name: str) -> np.ndarray:
    primary: np.ndarray = np.load(FIXTURES / name)["primary"].astype(np.float32)
    return primary * COMPENSATE


def separator(denoise: bool = False) -> Separator:
    inference = InferenceConfig.model_validate(
        {
            "hop_size": HOP, "window_shape": "hann", "padding_mode": "constant",
            "edge_padding": N_FFT // 2, "chunk_layout": "uvr", "derived_stems": RULES,
        }
    )  # fmt: skip
    params = {**PARAMS, "denoise": denoise}
    return Separator.from_spec(SPEC, params, GRAPH, inference=inference, device="cpu")


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


def test_engine_matches_audio_separator() -> None:
    """The whole track through `Separator.separate` (UVR's layout, cut last chunks included)."""
    mix, reference = mixture(), golden("mdxnet_reference.npz")
    assert mix.shape[-1] > 3 * CHUNK
    out = separator().separate(torch.from_numpy(mix))
    primary = out["vocals"].numpy()
    assert primary.shape == mix.shape
    assert relative_error(primary, reference) < TOLERANCE
    # UVR's secondary: the mixture it read minus the compensated primary
    secondary = out["instrum"].numpy()
    assert relative_error(secondary, mix - reference) < TOLERANCE


def test_denoise_matches_audio_separator() -> None:
    reference = golden("mdxnet_reference_denoise.npz")
    mix = torch.from_numpy(mixture()[:, : reference.shape[-1]])
    ours = separator(denoise=True).separate(mix)["vocals"].numpy()
    assert relative_error(ours, reference) < TOLERANCE
    plain = separator().separate(mix)["vocals"].numpy()
    assert relative_error(plain, reference) > 1e-2  # denoise changes the output


@pytest.mark.parametrize("batch_size", [1, 3])
def test_batching_does_not_change_the_output(batch_size: int) -> None:
    mix = torch.from_numpy(mixture()[:, :70_000])
    base = separator().separate(mix)["vocals"]
    sep = separator()
    sep = Separator.from_spec(
        SPEC, PARAMS, GRAPH,
        inference=sep.inference.model_copy(update={"batch_size": batch_size}), device="cpu",
    )  # fmt: skip
    assert torch.allclose(sep.separate(mix)["vocals"], base, atol=1e-6)


def test_compensate_scales_the_primary() -> None:
    sep = separator()
    chunk = torch.from_numpy(mixture()[None, :, :CHUNK])
    network = sep.model.network
    assert isinstance(network, MdxNetOnnx)
    with torch.no_grad():
        scaled = network(chunk)
        raw = network.waveform(network.run(network.spectrum(chunk)))
    assert scaled.shape == (1, 1, 2, CHUNK)
    assert torch.allclose(scaled[:, 0], raw * COMPENSATE, atol=1e-6)
