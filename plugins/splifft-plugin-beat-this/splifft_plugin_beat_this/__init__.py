"""splifft plugin: Beat This! (Foscarin, Schlüter, Widmer, ISMIR 2024), beat and downbeat tracking.

Importing this module stays torch-free: the network lives in `splifft_plugin_beat_this.network`,
the checkpoint loader in `splifft_plugin_beat_this.checkpoint` and the minimal postprocessing in
`splifft_plugin_beat_this.decode`, named by import path.
"""

from __future__ import annotations

from splifft_core.hookspecs import hookimpl
from splifft_core.models import ArchitectureSpec
from splifft_plugin_beat_this.params import BeatThisParams

CHECKPOINT_URL = "https://cloud.cp.jku.at/public.php/dav/files/7ik4RrBKTS273gp"
"""The authors' checkpoint folder (`beat_this.inference.CHECKPOINT_URL`): `{name}.ckpt`."""

SPEC = ArchitectureSpec(
    name="beat_this",
    params_model=BeatThisParams,
    model_factory="splifft_plugin_beat_this.network:build",
    checkpoint_loader="splifft_plugin_beat_this.checkpoint:load_checkpoint",
    task="beats",
    decoder="splifft_plugin_beat_this.decode:decode",
    description="Beat This!: log-mel front end, partial F/T transformers, rotary transformer; "
    "beat and downbeat logits at 50 fps, minimal peak-picking postprocessing.",
)


@hookimpl
def splifft_architectures() -> list[ArchitectureSpec]:
    return [SPEC]


__all__ = ["CHECKPOINT_URL", "SPEC", "BeatThisParams", "splifft_architectures"]
