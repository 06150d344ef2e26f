"""Write `registry/vr-tsurumeso-*.json`: the public VR models whose params the tables pin down.

    python plugins/splifft-plugin-vr/scripts/make_vr_manifests.py   (from the repository root)

UVR's catalogue (application_data `filelists/download_checks.json` `vr_download_list`, the same
as audio-separator's) names files, while its model data (`data/model_data.json`) is keyed by
file hash, which we cannot compute without the files. A model is listed here only when one
table entry fits its name alone: the VR 5.1 models (whose entries carry `nout`/`nout_lstm`, and
whose primary stem or layout is unique) and `17_HP-Wind_Inst-UVR` (the one `No Woodwinds`
entry; HP = UVR's 123821 network). The others (HP, HP2, SP, MGM) share layouts and stems
with several hashes: import them with `splifft import-uvr FILE`, which reads the file's hash.
No sha256 or size is known: they are trusted on first use. Scores are audio-separator's
`models-scores.json` medians (SDR).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "plugins" / "splifft-plugin-vr"))

from splifft_plugin_vr.uvr import CHUNKED_INFERENCE, params_from_model_data, uvr_table  # noqa: E402

URL = "https://github.com/TRvlvr/model_repo/releases/download/all_public_uvr_models/"
SCORES = ROOT / ".venv-peers/lib/python3.11/site-packages/audio_separator/models-scores.json"
"""audio-separator's scores (the peers venv the benchmarks build); skipped when absent."""
KIB = 1024

# file → (identifier tail, model-data hash it is the only match for, size in KiB UVR's arch rule
# needs, authors)
MODELS: dict[str, tuple[str, str, int, list[str]]] = {
    "UVR-De-Echo-Aggressive.pth": ("uvr_de_echo_aggressive", "f200a145434efc7dcf0cd093f517ed52", 56817, ["FoxJoy"]),
    "UVR-De-Echo-Normal.pth": ("uvr_de_echo_normal", "6857b2972e1754913aad0c9a1678c753", 56817, ["FoxJoy"]),
    "UVR-DeNoise.pth": ("uvr_denoise", "44c55d8b5d2e3edea98c2b2bf93071c7", 56817, ["FoxJoy"]),
    "UVR-DeNoise-Lite.pth": ("uvr_denoise_lite", "51ea8c43a6928ed3c10ef5cb2707d57b", 56817, ["FoxJoy"]),
    "UVR-BVE-4B_SN-44100-1.pth": ("uvr_bve_4b_sn_44100_1", "944950a9c5963a5eb70b445d67b7068a", 56817, ["aufr33"]),
    "17_HP-Wind_Inst-UVR.pth": ("17_hp_wind_inst_uvr", "0ec76fd9e65f81d8b4fbd13af4826ed8", 123821, ["Anjok07", "aufr33"]),
}  # fmt: skip


def manifest(file: str, tail: str, model_hash: str, kib: int, authors: list[str]) -> dict[str, Any]:
    entry = uvr_table()[model_hash]
    params = params_from_model_data(entry, kib * KIB, file)
    params["chunk_size"] = 30 * params["sample_rate"]
    scores = json.loads(SCORES.read_text()).get(file, {}) if SCORES.exists() else {}
    metrics = {
        stem: {"sdr": values["SDR"]}
        for stem, values in scores.get("median_scores", {}).items()
        if "SDR" in values
    }
    return {
        "schema_version": 1,
        "identifier": f"vr-tsurumeso-{tail}",
        "architecture": "vr",
        "plugin": "splifft-plugin-vr",
        "params": params,
        "stems": params["output_stem_names"],
        "sample_rate": params["sample_rate"],
        "channels": 2,
        "resources": [{"kind": "url", "url": URL + file, "filename": file}],
        "license": None,
        "authors": authors,
        "links": {
            "source": "https://github.com/Anjok07/ultimatevocalremovergui",
            "model_page": "https://github.com/TRvlvr/model_repo/releases/tag/all_public_uvr_models",
        },
        "metrics": metrics,
        "description": (
            f"{file}, Ultimate Vocal Remover's VR Architecture model (tsurumeso's vocal-remover "
            f"networks): {params['network']} over {params['band_layout']}, primary stem "
            f"{params['uvr_primary_stem']}; params from UVR's model data entry {model_hash} (the "
            "only one that fits the name; no licence published)."
        ),
        "inference": CHUNKED_INFERENCE,
    }


def main() -> None:
    for file, (tail, model_hash, kib, authors) in MODELS.items():
        data = manifest(file, tail, model_hash, kib, authors)
        path = ROOT / "registry" / f"{data['identifier']}.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        print(path.name)


if __name__ == "__main__":
    main()
