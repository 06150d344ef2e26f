"""splifft plugin: MDX23C (TFC-TDF-UNet v3, Kim et al. 2023).

Importing this module stays torch-free: the network lives in `splifft_plugin_mdx23c.network`,
named by import path.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_mdx23c.params import Mdx23cParams

SPEC = ArchitectureSpec(
    name="mdx23c",
    params_model=Mdx23cParams,
    model_factory="splifft_plugin_mdx23c.network:build",
    archetype="waveform",
    stem_selection="splifft_plugin_mdx23c.network:select_stems",
    msst_model_types=("mdx23c",),
    msst_import="splifft_plugin_mdx23c.msst:import_msst",
    description="TFC-TDF-UNet v3 (MDX23C): a complex-spectrogram U-Net with its own STFT.",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC]


__all__ = ["SPEC", "Mdx23cParams", "splifft_architectures"]
