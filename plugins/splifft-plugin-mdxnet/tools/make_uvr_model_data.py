"""Generate `splifft_plugin_mdxnet/uvr_model_data.json` from UVR's MDX-Net model-data tables.

Reads `mdx_model_data/model_data.json` and `model_data_new.json` of TRvlvr/application_data
(UVR's own tables, keyed by `splifft_core.uvr.uvr_model_hash`), keeps the MDX-Net ONNX entries
(those with `mdx_n_fft_scale_set`; the `config_yaml` ones are MDX23C/Roformer checkpoints), the
newer table winning, and writes them in our words: hash → n_fft, dim_f, dim_t (frames), compensate,
UVR's primary stem, karaoke flag, and the file name where known. UVR's tables carry no names; the
few in `NAMES` come from public catalogues that pair a file with its hash, each checked here to
exist in UVR's table.

    python plugins/splifft-plugin-mdxnet/tools/make_uvr_model_data.py \
        /work/.mirror/TRvlvr+application_data/repo
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "splifft_plugin_mdxnet" / "uvr_model_data.json"
TABLES = ("mdx_model_data/model_data.json", "mdx_model_data/model_data_new.json")
NAMES = {
    "77d07b2667ddf05b9e3175941b4454a0": "UVR-MDX-NET-Voc_FT.onnx",
    "55657dd70583b0fedfba5f67df11d711": "UVR-MDX-NET-Inst_HQ_3.onnx",
    "0f2a6bc5b49d87d64728ee40e23bceb1": "UVR-MDX-NET-Inst_HQ_4.onnx",
    "970b3f9492014d18fefeedfe4773cb42": "Kim_Vocal_2.onnx",
    "cd5b2989ad863f116c855db1dfe24e39": "Reverb_HQ_By_FoxJoy.onnx",
}


def read_table(repo: Path, path: str) -> dict[str, Any]:
    """One table at the repository's HEAD (a bare mirror or a checkout)."""
    git = ["git", "-C", str(repo), "show", f"HEAD:{path}"]
    text = subprocess.run(git, check=True, capture_output=True, text=True).stdout
    table: dict[str, Any] = json.loads(text)
    return table


def main(repo: Path) -> None:
    models: dict[str, dict[str, Any]] = {}
    for path in TABLES:
        for model_hash, entry in read_table(repo, path).items():
            if "mdx_n_fft_scale_set" not in entry:
                continue
            models[model_hash] = {
                "n_fft": int(entry["mdx_n_fft_scale_set"]),
                "dim_f": int(entry["mdx_dim_f_set"]),
                "dim_t": 2 ** int(entry["mdx_dim_t_set"]),
                "compensate": float(entry["compensate"]),
                "primary_stem": str(entry["primary_stem"]),
                "is_karaoke": bool(entry.get("is_karaoke", False)),
                "name": NAMES.get(model_hash),
            }
    missing = sorted(set(NAMES) - set(models))
    if missing:
        raise SystemExit(f"named hashes not in UVR's tables: {missing}")
    data = {
        "source": "TRvlvr/application_data " + ", ".join(TABLES),
        "models": dict(sorted(models.items())),
    }
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"{OUT}: {len(models)} models")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
