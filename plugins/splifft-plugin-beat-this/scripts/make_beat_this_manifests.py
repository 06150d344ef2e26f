"""Write `registry/beat_this-foscarin-*.json`, one manifest per checkpoint the authors publish.

    python plugins/splifft-plugin-beat-this/scripts/make_beat_this_manifests.py

The names are those `beat_this` 1.1.0's README lists (its `load_checkpoint` resolves a name to
`{CHECKPOINT_URL}/{name}.ckpt`, saved as `beat_this-{name}.ckpt`). The files' sha256 and sizes
cannot be computed offline, so the resources carry neither (the url kind allows it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from splifft_plugin_beat_this import CHECKPOINT_URL

ROOT = Path(__file__).resolve().parents[3]

SEEDS = ("0", "1", "2")
MAIN = "Our main model (the paper's 'Our system', Table 2): trained on all data except GTZAN"
NAMES: dict[str, tuple[str, dict[str, Any]]] = {}
for seed in SEEDS:
    NAMES[f"final{seed}"] = (f"{MAIN}, seed {seed}.", {})
    NAMES[f"small{seed}"] = (
        f"The smaller model (transformer_dim 128; Table 2's 'smaller model'): trained on all data "
        f"except GTZAN, seed {seed}.",
        {"transformer_dim": 128},
    )
    NAMES[f"single_final{seed}"] = (
        f"The main model trained on the paper's single split (Section 4.1; Table 3's 'Our "
        f"system'), seed {seed}.",
        {},
    )
    NAMES[f"hung{seed}"] = (
        f"The main model trained on the data of Hung et al.'s system (except GTZAN; Table 2's "
        f"'limited to data of [10]'), seed {seed}.",
        {},
    )
for fold in range(8):
    NAMES[f"fold{fold}"] = (
        f"The main model of the 8-fold cross-validation (Table 1), fold {fold}.",
        {},
    )
ABLATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "notempoaug": ("without tempo augmentation", {}),
    "nosumhead": ("without the sum head", {"sum_head": False}),
    "nomaskaug": ("without mask augmentation", {}),
    "nopartialt": ("without the partial transformers", {"partial_transformers": False}),
    "noshifttol": ("without the shift-tolerant loss", {}),
    "nopitchaug": ("without pitch augmentation", {}),
    "noshifttolnoweights": ("without shift tolerance and loss weights", {}),
}
for key, (what, params) in ABLATIONS.items():
    for seed in SEEDS:
        NAMES[f"single_{key}{seed}"] = (
            f"Ablation (Table 3), single split, {what}, seed {seed}.",
            params,
        )


def manifest(name: str, description: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "identifier": f"beat_this-foscarin-{name}",
        "architecture": "beat_this",
        "plugin": "splifft-plugin-beat-this",
        "task": "beats",
        "params": {"sample_rate": 22050, "audio_channels": 1, **params},
        "stems": [],
        "sample_rate": 22050,
        "channels": 1,
        "resources": [
            {
                "kind": "url",
                "url": f"{CHECKPOINT_URL}/{name}.ckpt",
                "filename": f"beat_this-{name}.ckpt",
            }
        ],
        "license": "MIT",
        "authors": ["Francesco Foscarin", "Jan Schlüter", "Gerhard Widmer"],
        "links": {
            "paper": "https://arxiv.org/abs/2407.21658",
            "source": "https://github.com/CPJKU/beat_this",
            "model_page": "https://cloud.cp.jku.at/index.php/s/7ik4RrBKTS273gp",
        },
        "description": f"Beat This! `{name}`: {description} Beat and downbeat logits at 50 fps "
        "from a log-mel spectrogram; minimal peak-picking postprocessing (no DBN).",
    }


ALIASES = ("final", "small", "single_final")
"""Families whose seed-0 checkpoint also gets the family's name (`beat_this-foscarin-final` is
`final0`, the package's default), as the issue and the package's docs name them."""


def main() -> None:
    written = 0
    for name, (description, params) in NAMES.items():
        entries = [(name, manifest(name, description, params))]
        family = name[:-1]
        if family in ALIASES and name.endswith("0"):
            alias = manifest(name, description, params)
            alias["identifier"] = f"beat_this-foscarin-{family}"
            alias["description"] = (
                f"Beat This! `{family}`: the `{name}` checkpoint (seed 0), the package's default "
                f"of this family. {description} Beat and downbeat logits at 50 fps from a "
                "log-mel spectrogram; minimal peak-picking postprocessing (no DBN)."
            )
            entries.append((family, alias))
        for ident, data in entries:
            path = ROOT / "registry" / f"beat_this-foscarin-{ident}.json"
            path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            written += 1
    print(f"{written} manifests")


if __name__ == "__main__":
    main()
