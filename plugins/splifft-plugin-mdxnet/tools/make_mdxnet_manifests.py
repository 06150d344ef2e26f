"""Write `registry/mdxnet-*.json`: the UVR MDX-Net models whose UVR hash (so whose parameters)
is known by file name (`uvr_model_data.json` entries with a `name`).

Params, inference defaults and stems are `splifft_plugin_mdxnet.uvr.import_uvr`'s; scores are
audio-separator 0.47.1's `models-scores.json` medians; weights are the files UVR and
audio-separator download (no sha256 published: trust on first use).

    python plugins/splifft-plugin-mdxnet/tools/make_mdxnet_manifests.py \
        /work/main/.venv-peers/lib/python3.11/site-packages/audio_separator/models-scores.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from splifft_plugin_mdxnet.uvr import import_uvr, uvr_table

from splifft_core.uvr import uvr_stem_name

REGISTRY = Path(__file__).resolve().parents[3] / "registry"
URL = "https://github.com/TRvlvr/model_repo/releases/download/all_public_uvr_models/"
UVR_TEAM = ["Anjok07", "aufr33"]
MODELS: dict[str, dict[str, Any]] = {
    "UVR-MDX-NET-Voc_FT.onnx": {
        "id": "uvr_voc_ft", "title": "UVR-MDX-NET Voc FT", "authors": UVR_TEAM, "license": "MIT",
    },
    "UVR-MDX-NET-Inst_HQ_3.onnx": {
        "id": "uvr_inst_hq_3", "title": "UVR-MDX-NET Inst HQ 3", "authors": UVR_TEAM,
        "license": "MIT",
    },
    "UVR-MDX-NET-Inst_HQ_4.onnx": {
        "id": "uvr_inst_hq_4", "title": "UVR-MDX-NET Inst HQ 4", "authors": UVR_TEAM,
        "license": "MIT",
    },
    "Kim_Vocal_2.onnx": {"id": "kim_vocal_2", "title": "Kim Vocal 2", "authors": ["KimberleyJSN"]},
    "Reverb_HQ_By_FoxJoy.onnx": {
        "id": "foxjoy_reverb_hq", "title": "Reverb HQ by FoxJoy", "authors": ["FoxJoy"],
    },
}  # fmt: skip
SCORE_STEMS = {"vocals": "vocals", "instrumental": "instrum"}


def main(scores_path: Path) -> None:
    scores = json.loads(scores_path.read_text())
    by_name = {entry["name"]: h for h, entry in uvr_table().items() if entry.get("name")}
    for file, info in MODELS.items():
        model_hash = by_name[file]
        imported = import_uvr(Path(file), model_hash, None)
        params, derived = imported["params"], imported["derived_stems"]
        entry = uvr_table()[model_hash]
        medians = scores.get(file, {}).get("median_scores", {})
        metrics = {
            SCORE_STEMS.get(stem, uvr_stem_name(stem)): {k.lower(): v for k, v in values.items()}
            for stem, values in medians.items()
        }
        scored = " Scores: audio-separator's models-scores.json medians." if metrics else ""
        manifest: dict[str, Any] = {
            "schema_version": 1,
            "identifier": f"mdxnet-kim-{info['id']}",
            "architecture": "mdxnet",
            "plugin": "splifft-plugin-mdxnet",
            "params": params,
            "stems": params["output_stem_names"],
            "sample_rate": 44100,
            "channels": 2,
            "resources": [{"kind": "url", "url": URL + file, "filename": file}],
            **({"license": info["license"]} if "license" in info else {}),
            "authors": info["authors"],
            "links": {
                "paper": "https://arxiv.org/abs/2111.12203",
                "source": "https://github.com/Anjok07/ultimatevocalremovergui",
            },
            "metrics": metrics,
            "description": (
                f"{info['title']} ({file}), Ultimate Vocal Remover's MDX-Net model: "
                f"{entry['primary_stem']} from the network, {next(iter(derived))} as the mixture "
                f"minus it; n_fft {params['n_fft']}, dim_f {params['dim_f']}, dim_t "
                f"{params['dim_t']}, compensate {params['compensate']} (UVR's model data for hash "
                f"{model_hash}).{scored}"
            ),
            "inference": imported["inference"],
            "derived_stems": derived,
        }
        out = REGISTRY / f"{manifest['identifier']}.json"
        out.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        print(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
