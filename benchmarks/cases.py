"""Benchmark cases shared by the driver and both runners (torch-free, plain data).

A case names one network (its MSST / demucs hyperparameters, so every engine builds the same
shape) and the input length; a job is one engine running one case in a fresh process.
Both runners import this module by path: the peers' venv has no splifft installed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

RATE = 44100

Family = Literal[
    "bs_roformer", "mel_roformer", "mdx23c", "htdemucs", "bs_roformer_hyperace", "apollo"
]
Engine = Literal["ours", "splifft009", "audiosep", "demucs", "msst"]
HYPERACE_KEYS = ("hyperace_version", "num_hyperedges", "hyperace_heads")
"""Our `bs_roformer_hyperace` params a HyperACE case's `model` adds to MSST's BS-RoFormer keys."""


@dataclass(frozen=True)
class Case:
    name: str
    family: Family
    model: dict[str, Any]
    """Constructor kwargs of the reference network (MSST `model:` section / demucs kwargs; the
    HyperACE case adds `HYPERACE_KEYS`)."""
    chunk_size: int
    seconds: float
    """Input length."""
    overlap: int
    """MSST `num_overlap`: hop = chunk // overlap."""
    stems: tuple[str, ...]
    note: str = ""
    batch_size: int = 1
    warmup: bool = True
    """One untimed chunk through the model first (off where the input is a single chunk)."""
    stft_hop_length: int = 512
    """The MSST `audio.hop_length` / roformer STFT hop (MDXC derives its chunk from it)."""
    extra: dict[str, Any] = field(default_factory=dict)
    overlap_ratio: float | None = None
    """demucs' `overlap` (hop = ⌊(1 - overlap_ratio) · chunk⌋); wins over `overlap`."""

    @property
    def hop_size(self) -> int:
        if self.overlap_ratio is not None:
            return int((1.0 - self.overlap_ratio) * self.chunk_size)
        return self.chunk_size // self.overlap

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


BAND_DEFAULT = (*(2,) * 24, *(4,) * 12, *(12,) * 8, *(24,) * 8, *(48,) * 8, 128, 129)


def _roformer(dim: int, depth: int, heads: int, dim_head: int, **more: Any) -> dict[str, Any]:
    return {
        "dim": dim,
        "depth": depth,
        "stereo": True,
        "time_transformer_depth": 1,
        "freq_transformer_depth": 1,
        "dim_head": dim_head,
        "heads": heads,
        "stft_n_fft": 2048,
        "stft_win_length": 2048,
        "mlp_expansion_factor": 4,
        **more,
    }


def speed_cases(quick: bool) -> list[Case]:
    """The side-by-side speed cases (`quick`: shorter inputs, no viperx-sized model)."""
    scale = 0.5 if quick else 1.0
    cases = [
        Case(
            "bs_roformer-small",
            "bs_roformer",
            _roformer(64, 2, 4, 32, stft_hop_length=512, num_stems=1, mask_estimator_depth=2),
            chunk_size=512 * 256,
            seconds=6.0 * scale,
            overlap=2,
            stems=("vocals",),
            note="dim 64, depth 2, 4 heads × 32, 62 bands, chunk 2.97 s",
        ),
        Case(
            "mel_roformer-small",
            "mel_roformer",
            _roformer(
                64, 2, 4, 32, stft_hop_length=512, num_stems=1, num_bands=60, sample_rate=RATE
            ),
            chunk_size=512 * 256,
            seconds=6.0 * scale,
            overlap=2,
            stems=("vocals",),
            note="dim 64, depth 2, 4 heads × 32, 60 mel bands, mask depth 1 (MSST), chunk 2.97 s",
        ),
        Case(
            "mdx23c-small",
            "mdx23c",
            {
                "num_subbands": 4,
                "num_scales": 4,
                "scale": [2, 2],
                "num_blocks_per_scale": 1,
                "num_channels": 32,
                "growth": 32,
                "bottleneck_factor": 4,
                "norm": "InstanceNorm",
                "act": "gelu",
            },
            chunk_size=1024 * 127,
            seconds=6.0 * scale,
            overlap=2,
            stems=("vocals", "instrum"),
            stft_hop_length=1024,
            extra={"n_fft": 4096, "dim_f": 1024},
            note="32 channels, growth 32, 4 scales, n_fft 4096, dim_f 1024, chunk 2.95 s",
        ),
        Case(
            "htdemucs",
            "htdemucs",
            {
                "sources": ["drums", "bass", "other", "vocals"],
                "channels": 48,
                "depth": 4,
                "nfft": 4096,
                "bottom_channels": 512,
                "t_layers": 5,
                "dconv_mode": 3,
                "segment": 7.8,
            },
            chunk_size=int(7.8 * RATE),
            seconds=10.0 * scale,
            overlap=1,
            overlap_ratio=0.25,
            stems=("drums", "bass", "other", "vocals"),
            note="the published htdemucs shape (48 channels, depth 4, 5 transformer layers)",
        ),
        Case(
            "bs_roformer_hyperace-small",
            "bs_roformer_hyperace",
            _roformer(
                64,
                2,
                4,
                32,
                stft_hop_length=512,
                num_stems=1,
                mask_estimator_depth=2,
                hyperace_version=2,
                num_hyperedges=32,
                hyperace_heads=8,
            ),
            # the HyperACE heads work on the whole STFT grid whatever `dim`: about 9 CPU s per
            # 2.97 s chunk on 2 cores, so a shorter chunk keeps the case in minutes
            chunk_size=512 * 64,
            seconds=1.5 * scale,
            overlap=2,
            stems=("vocals",),
            note=(
                "splifft 0.0.9's BS-RoFormer with unwa's HyperACE v2 heads (32 hyperedges, 8 "
                "heads): dim 64, depth 2, 4 heads × 32, 62 bands, n_fft 2048, hop 512; chunk "
                "0.74 s (65 frames), 2× overlap"
            ),
        ),
        Case(
            "apollo-small",
            "apollo",
            {"sr": RATE, "win": 20, "feature_dim": 64, "layer": 2},
            chunk_size=3 * RATE // 2,  # about 4 CPU s per 3 s chunk on 2 cores
            seconds=3.0 * scale,
            overlap=2,
            stems=("restored",),
            note=(
                "MSST's Apollo: feature_dim 64, 2 layers, 20 ms window (hop 441), 44.1 kHz; "
                "chunk 1.5 s (151 frames), 2× overlap"
            ),
        ),
    ]
    if not quick:
        cases.insert(
            1,
            Case(
                "bs_roformer-viperx",
                "bs_roformer",
                _roformer(512, 12, 8, 64, stft_hop_length=441, num_stems=1, mask_estimator_depth=2),
                chunk_size=441 * 100,
                seconds=1.0,
                overlap=1,
                stems=("vocals",),
                warmup=False,
                stft_hop_length=441,
                note=(
                    "the bs_roformer-lu-viperx network (dim 512, depth 12, 8 heads × 64, "
                    "160 M parameters) on one 1 s chunk, no overlap, no warm-up (its 8 s chunk "
                    "takes minutes per forward on 2 shared cores)"
                ),
            ),
        )
    return cases


def memory_case() -> Case:
    """A cheap network for peak memory against track length (the engine's buffers dominate)."""
    return Case(
        "bs_roformer-tiny",
        "bs_roformer",
        _roformer(16, 1, 1, 16, stft_hop_length=512, num_stems=1, mask_estimator_depth=1),
        chunk_size=512 * 256,
        seconds=60.0,
        overlap=2,
        stems=("vocals",),
        note="dim 16, depth 1, 1 head; chunk 2.97 s, hop 1.49 s",
    )


def msst_config(case: Case) -> dict[str, Any]:
    """The case as an MSST yaml (what audio-separator's MDXC separator, MSST's `demix` and our
    importers read)."""
    if case.family == "apollo":  # MSST's config_apollo.yaml sections (no STFT keys)
        return {
            "audio": {"chunk_size": case.chunk_size, "num_channels": 2, "sample_rate": RATE},
            "model": dict(case.model),
            "training": {"instruments": list(case.stems), "target_instrument": case.stems[0]},
            "inference": {"batch_size": case.batch_size, "num_overlap": case.overlap},
        }
    dim_t = case.chunk_size // case.stft_hop_length + 1
    target = case.stems[0] if len(case.stems) == 1 else None
    return {
        "audio": {
            "chunk_size": case.chunk_size,
            "sample_rate": RATE,
            "num_channels": 2,
            "hop_length": case.stft_hop_length,
            "dim_t": dim_t,
            **case.extra,
        },
        # MSST's BS-RoFormer keys only: the HyperACE settings are ours (`HYPERACE_KEYS`)
        "model": {k: v for k, v in case.model.items() if k not in HYPERACE_KEYS},
        "training": {"instruments": list(case.stems), "target_instrument": target},
        "inference": {"batch_size": case.batch_size, "num_overlap": case.overlap, "dim_t": dim_t},
    }


@dataclass(frozen=True)
class Job:
    engine: Engine
    layout: str
    """Which peer this run is matched to: `splifft009`, `audiosep`, `demucs`, `msst` (ours
    mimics it)."""
    case: Case
    weights: str
    """Path of the shared random state dict (reference layout)."""
    seconds: float
    warmup: bool = True
    audio_file: str | None = None
    """Ours only: stream this file with `separate_file` instead of `separate` on a tensor."""
    out_dir: str | None = None
    msst: str | None = None
    """An MSST checkout: its `utils/model_utils.py` (`demix`) and Apollo network."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
