"""Basic Pitch's spec, params, manifest, windowing plan, loader errors and note-creation rules
(no weights needed)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import splifft_plugin_basic_pitch
import torch
from splifft_plugin_basic_pitch import SPEC, BasicPitchParams
from splifft_plugin_basic_pitch.checkpoint import load_checkpoint
from splifft_plugin_basic_pitch.decode import decode, frame_times, inferred_onsets, onset_peaks
from splifft_plugin_basic_pitch.network import build

from splifft_core.errors import CheckpointError
from splifft_core.manifest import Manifest, PypiResource

REPO = Path(__file__).resolve().parents[3]
MANIFEST = REPO / "registry" / "basic_pitch-bittner-icassp2022.json"
PARAMS = BasicPitchParams()

# basic_pitch/constants.py and inference.py (basic-pitch 0.4.0)
FFT_HOP = 256
AUDIO_SAMPLE_RATE = 22050
AUDIO_N_SAMPLES = AUDIO_SAMPLE_RATE * 2 - FFT_HOP
ANNOTATIONS_FPS = AUDIO_SAMPLE_RATE // FFT_HOP
OVERLAP_LEN = 30 * FFT_HOP


def test_spec() -> None:
    assert SPEC.name == "basic_pitch"
    assert SPEC.params_model is BasicPitchParams
    assert splifft_plugin_basic_pitch.splifft_architectures() == [SPEC]
    assert SPEC.task == "notes"
    assert SPEC.decoder == "splifft_plugin_basic_pitch.decode:decode"


def test_import_is_torch_free() -> None:
    code = "import sys, splifft_plugin_basic_pitch; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_params_are_basic_pitch_constants() -> None:
    assert PARAMS.sample_rate == AUDIO_SAMPLE_RATE and PARAMS.audio_channels == 1
    assert PARAMS.chunk_size == AUDIO_N_SAMPLES == 43844
    assert PARAMS.frame_hop == FFT_HOP
    assert PARAMS.chunk_hop == AUDIO_N_SAMPLES - OVERLAP_LEN == 36164
    assert PARAMS.lead_padding == OVERLAP_LEN // 2 == 3840
    assert PARAMS.chunk_border == 15
    assert PARAMS.chunk_frames == 172
    assert PARAMS.output_names == ("note", "onset", "contour")
    assert PARAMS.minimum_note_frames == int(np.round(127.70 / 1000 * (22050 / 256))) == 11
    for samples in (1, 255, 256, 22050, 264600, 1_323_000, 10**7 + 3):
        expected = int(np.floor(samples * (ANNOTATIONS_FPS / AUDIO_SAMPLE_RATE)))
        assert PARAMS.frame_count(samples) == expected


def test_params_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="output_names"):
        BasicPitchParams(output_names=("note",))
    with pytest.raises(ValueError, match="chunk_border"):
        BasicPitchParams(chunk_border=86)
    with pytest.raises(ValueError):
        BasicPitchParams(unknown=1)  # type: ignore[call-arg]


def test_engine_plan_covers_the_reference_windows() -> None:
    from splifft_core.engine import plan_frames

    for samples in (1000, 36164, 264600, 1_323_000):
        plan = plan_frames(samples, PARAMS)
        windows = math.ceil((samples + OVERLAP_LEN // 2) / PARAMS.chunk_hop)
        assert plan.frames == PARAMS.frame_count(samples)
        assert plan.chunks >= windows
        assert plan.chunks * (PARAMS.chunk_frames - 2 * PARAMS.chunk_border) >= plan.frames
        assert (plan.chunk_hop, plan.lead_padding, plan.border) == (36164, 3840, 15)


def test_manifest() -> None:
    raw = json.loads(MANIFEST.read_text())
    manifest = Manifest.model_validate(raw)
    assert manifest.task == "notes" and manifest.stems == []
    assert manifest.architecture == SPEC.name
    assert manifest.plugin == "splifft-plugin-basic-pitch"
    assert manifest.license == "Apache-2.0"
    assert (manifest.sample_rate, manifest.channels) == (22050, 1)
    params = SPEC.parse_params(manifest.params)
    assert params == PARAMS
    [resource] = manifest.resources
    assert isinstance(resource, PypiResource)
    assert (resource.distribution, resource.version) == ("basic-pitch", "0.4.0")
    assert resource.member == "basic_pitch/saved_models/icassp_2022/nmp.onnx"
    assert resource.size == 230444


def test_network_needs_its_graph() -> None:
    net = build(PARAMS)
    assert list(net.state_dict()) == []
    with pytest.raises(RuntimeError, match="load_checkpoint"):
        net(torch.zeros(1, 1, PARAMS.chunk_size))


def test_loader_refuses_other_files(tmp_path: Path) -> None:
    net = build(PARAMS)
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a protobuf at all" * 10)
    with pytest.raises(CheckpointError):
        load_checkpoint(net, PARAMS, [bad])
    with pytest.raises(CheckpointError, match=r"one \.onnx"):
        load_checkpoint(net, PARAMS, [bad, bad])
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(net, PARAMS, [tmp_path / "missing.onnx"])
    with pytest.raises(TypeError):
        build(object())  # type: ignore[arg-type]


# -- note creation ------------------------------------------------------------------------------


def synthetic(frames: int = 300) -> dict[str, np.ndarray]:
    note = np.full((frames, 88), 0.01, np.float32)
    onset = np.full((frames, 88), 0.01, np.float32)
    contour = np.full((frames, 264), 0.01, np.float32)
    note[50:120, 39] = 0.8  # MIDI 60, with an onset
    onset[50, 39] = 0.9
    # MIDI 66, rising too slowly for an (inferred) onset: the melodia trick's; at or above
    # the frame threshold from frame 209 on
    note[200:220, 45] = np.linspace(0.05, 0.6, 20)
    note[220:260, 45] = 0.6
    contour[50:120, 3 * 39 + 1] = 0.9  # a third of a semitone sharp
    contour[200:260, 3 * 45] = 0.9
    return {"note": note, "onset": onset, "contour": contour}


def test_decode_onset_and_melodia_notes() -> None:
    notes = decode(synthetic(), PARAMS)
    times = frame_times(300, PARAMS)
    assert [(e.pitch, e.start, e.end) for e in notes.events] == [
        (60, times[50], times[120]),
        (66, times[209], times[259]),  # the melodia trick's end: the last frame above
    ]
    first, second = notes.events
    assert first.amplitude == pytest.approx(0.8) and first.velocity == round(127 * 0.8)
    assert first.pitch_bends == (1,) * 70
    assert second.pitch_bends == (0,) * 50
    assert second.amplitude == pytest.approx(float(np.mean(synthetic()["note"][209:259, 45])))
    assert set(notes.activations) == {"note", "onset", "contour"}


def test_decode_options() -> None:
    acts = synthetic()
    assert [e.pitch for e in decode(acts, BasicPitchParams(melodia_trick=False)).events] == [60]
    plain = decode(acts, BasicPitchParams(include_pitch_bends=False)).events
    assert all(e.pitch_bends == () for e in plain)
    above = decode(acts, BasicPitchParams(minimum_frequency=300.0)).events  # MIDI 62.2
    assert [e.pitch for e in above] == [66]
    below = decode(acts, BasicPitchParams(maximum_frequency=300.0)).events
    assert [e.pitch for e in below] == [60]
    long_only = BasicPitchParams(minimum_note_length_ms=750.0)  # 65 frames
    assert [e.pitch for e in decode(acts, long_only).events] == [60]


def test_decode_silence() -> None:
    quiet = {k: np.zeros_like(v)[:50] for k, v in synthetic().items()}
    assert decode(quiet, PARAMS).events == ()


def test_onset_peaks_and_inferred_onsets() -> None:
    strength = np.zeros((6, 2))
    strength[:, 0] = [0.9, 0.2, 0.7, 0.1, 0.6, 0.8]  # the edges are never peaks
    strength[3, 1] = 0.55
    times, bins = onset_peaks(strength, 0.5)
    assert list(zip(times.tolist(), bins.tolist(), strict=True)) == [(3, 1), (2, 0)]
    frames = np.zeros((6, 1), np.float32)
    frames[3:, 0] = 1.0
    onsets = np.full((6, 1), 0.25, np.float32)
    result = inferred_onsets(onsets, frames)
    assert result.dtype == np.float64
    assert result[:, 0].tolist() == [0.25, 0.25, 0.25, 0.25, 0.25, 0.25]
    onsets[0, 0] = 0.5
    assert inferred_onsets(onsets, frames)[3, 0] == 0.5  # the rise, rescaled to max onset


def test_frame_times_follow_model_frames_to_time() -> None:
    times = frame_times(400, PARAMS)
    offset = (256 / 22050) * (172 - 43844 / 256) + 0.0018
    k = np.arange(400)
    assert np.array_equal(times, k * 256 / 22050.0 - offset * np.floor(k / 172))
