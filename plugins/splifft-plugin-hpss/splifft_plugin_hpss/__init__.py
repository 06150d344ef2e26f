"""Harmonic/percussive source separation by median filtering (FitzGerald, DAFx 2010).

Harmonic sounds are horizontal ridges in the magnitude spectrogram, percussive ones vertical:
a median filter along time keeps the first, one along frequency the second, and Wiener-style soft
masks split the mixture spectrogram between them. No weights: the default model works offline.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_hpss.params import HpssParams

HPSS = ArchitectureSpec(
    name="hpss",
    params_model=HpssParams,
    model_factory="splifft_plugin_hpss.network:build",
    archetype="stft_mask",
    description="median-filtering harmonic/percussive separation (FitzGerald 2010)",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [HPSS]
