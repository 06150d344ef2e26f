"""Every name on the seed reference page exists in `splifft_core.types` with its meaning."""

from __future__ import annotations

import itertools
import typing
from pathlib import Path

import splifft_core.types as t

SEED_NAMES = [
    "StrPath", "BytesPath", "Gt0", "Ge0", "ModelType", "ModelInputType", "ModelOutputType",
    "ChunkSize", "HopSize", "Dropout", "ModelOutputStemName", "Samples", "SampleRate", "Channels",
    "FileFormat", "BitRate", "RawAudioTensor", "NormalizedAudioTensor", "ComplexSpectrogram",
    "HybridModelInput", "WindowShape", "FftSize", "Bands", "BatchSize", "PaddingMode",
    "ChunkDuration", "OverlapRatio", "Padding", "PaddedChunkedAudioTensor", "NumModelStems",
    "SeparatedSpectrogramTensor", "SeparatedChunkedTensor", "WindowTensor", "RawSeparatedTensor",
    "PreprocessFn", "PostprocessFn", "Identifier", "Instrument", "Metric", "Sdr", "SiSdr",
    "L1Norm", "DbDifferenceMel", "Bleedless", "Fullness",
]  # fmt: skip

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "splifft-types-reference.txt"


def test_every_seed_name_is_importable() -> None:
    for name in SEED_NAMES:
        assert hasattr(t, name), name


def test_seed_page_lists_no_other_names() -> None:
    if not SEED.is_file():  # the shared folder sits beside the checkout in CI and dev sessions
        return
    lines = SEED.read_text().splitlines()
    start, end = lines.index("Name | Type | Description |"), lines.index("ModelType")
    table = "\n".join(lines[start:end])
    listed = {
        line.strip(" |")
        for line in table.splitlines()
        if line.endswith(" |") and line.strip(" |").isidentifier()
    }
    assert listed <= set(SEED_NAMES), listed - set(SEED_NAMES)


def test_tensor_types_are_newtypes_and_literals_match() -> None:
    for name in ["RawAudioTensor", "NormalizedAudioTensor", "ComplexSpectrogram", "SeparatedChunkedTensor",
                 "PaddedChunkedAudioTensor", "SeparatedSpectrogramTensor", "WindowTensor", "RawSeparatedTensor"]:  # fmt: skip
        assert isinstance(getattr(t, name), typing.NewType), name
    assert set(typing.get_args(t.PaddingMode)) == {"reflect", "constant", "replicate"}
    assert set(typing.get_args(t.Metric)) == {
        "sdr", "si_sdr", "l1_freq", "log_wmse", "aura_stft", "aura_mrstft", "bleedless", "fullness",
    }  # fmt: skip
    instruments = set(typing.get_args(t.Instrument))
    assert {
        "instrum",
        "vocals",
        "drums",
        "bass",
        "other",
        "dereverb",
        "harmonic",
        "percussive",
    } <= instruments


def attribute_docstrings() -> dict[str, str]:
    """Docstrings written under each module-level name (read statically, as the docs do)."""
    import ast

    tree = ast.parse(Path(t.__file__).read_text())
    docs: dict[str, str] = {}
    body = tree.body
    for node, after in itertools.pairwise(body):
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if (
            isinstance(target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[target.id] = after.value.value
    return docs


def test_documented_names_carry_their_meaning() -> None:
    docs = attribute_docstrings()
    expected = {
        "ChunkSize": "processed by the model at one time",
        "HopSize": "between the start of consecutive chunks",
        "ComplexSpectrogram": "Shape (channels, frequency bins, time frames, 2)",
        "PaddedChunkedAudioTensor": "Shape (batch size, channels, chunk size)",
        "SeparatedChunkedTensor": "Shape (batch size, number of stems, channels, chunk size)",
        "RawSeparatedTensor": "Shape (number of stems, channels, samples)",
        "WindowTensor": "Shape (chunk size)",
        "OverlapRatio": r"\text{hop\_size} = \text{chunk\_size} \cdot (1 - \text{overlap\_ratio})",
        "Sdr": "Signal-to-Distortion Ratio (decibels)",
        "SiSdr": "Scale-Invariant SDR",
        "Bleedless": "bleeding",
        "Fullness": "how much of the original source is missing",
        "BatchSize": "number of chunks processed simultaneously",
    }
    for name, phrase in expected.items():
        assert phrase in docs.get(name, ""), name


def test_overlap_ratio_bounds_are_enforced() -> None:
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(t.OverlapRatio)
    assert adapter.validate_python(0.75) == 0.75
    for bad in (-0.1, 1.0):
        try:
            adapter.validate_python(bad)
        except ValidationError:
            continue
        raise AssertionError(f"{bad} accepted")
