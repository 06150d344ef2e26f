"""Regenerate `splifft_plugin_vr/data/{band_params,model_data}.json` from UVR's tables.

    python scripts/make_vr_tables.py /path/to/ultimatevocalremovergui /path/to/application_data \
        [/path/to/audio_separator/separator/uvr_lib_v5/vr_network/modelparams]

Reads UVR's `lib_v5/vr_network/modelparams/*.json` (the multi-band spectrogram layouts) and
application_data's `vr_model_data/model_data.json` + `model_data_new.json` (model hash → layout
name, primary stem, `nout`/`nout_lstm`, …; the newer table wins, as in UVR). A third argument
adds the model-param files only audio-separator ships (e.g. `4band_v4_ms_fullband`). Both are rewritten
in our layout: integer band numbers become a list (lowest band first), `n_bins` is spelled
`bins`, UVR's defaults (`False` flags, `-1` filters) are made explicit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FLAGS = ("mid_side", "mid_side_b", "mid_side_b2", "stereo_w", "stereo_n", "reverse")
BAND_KEYS = (
    "sr", "hl", "n_fft", "crop_start", "crop_stop", "hpf_start", "hpf_stop", "lpf_start",
    "lpf_stop", "res_type", "convert_channels",
)  # fmt: skip


def layout(raw: dict[str, Any]) -> dict[str, Any]:
    bands = [raw["band"][k] for k in sorted(raw["band"], key=int)]
    out: dict[str, Any] = {
        "bins": raw.get("n_bins", raw.get("bins")),
        "sr": raw.get("sr", 44100),
        "pre_filter_start": raw.get("pre_filter_start", -1),
        "pre_filter_stop": raw.get("pre_filter_stop", -1),
    }
    for flag in FLAGS:
        out[flag] = bool(raw.get(flag, False))
    if "aggr_correction" in raw:
        out["aggr_correction"] = raw["aggr_correction"]
    out["bands"] = [{k: b[k] for k in BAND_KEYS if k in b} for b in bands]
    return out


def main(uvr: Path, app_data: Path, extra: Path | None = None) -> None:
    data = Path(__file__).resolve().parents[1] / "splifft_plugin_vr" / "data"
    params_dir = uvr / "lib_v5" / "vr_network" / "modelparams"
    files = {p.stem: p for p in sorted(extra.glob("*.json"))} if extra else {}
    files.update({p.stem: p for p in sorted(params_dir.glob("*.json"))})
    files.pop("ensemble", None)  # UVR's ensembling layout, no model uses it
    params = {name: layout(json.loads(p.read_text())) for name, p in sorted(files.items())}
    (data / "band_params.json").write_text(json.dumps(params, indent=1, sort_keys=True) + "\n")
    table: dict[str, Any] = {}
    for name in ("model_data.json", "model_data_new.json"):
        table.update(json.loads((app_data / "vr_model_data" / name).read_text()))
    (data / "model_data.json").write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None)
