"""`splifft import-uvr`: an Ultimate Vocal Remover model file → a user-local manifest.

UVR keys its model-data tables (each family's parameters) by an md5 of the file's tail
(`uvr_model_hash`); UVR's stem names map onto ours the same way in every family
(`uvr_stem_name`, `uvr_secondary_stem`). The plugin that imports the file's
suffix (`ArchitectureSpec.uvr_suffixes`) turns the entry, the user's (`--model-data`) or its own
copy of UVR's tables, into params; the file is then checked and the manifest written exactly as
`import-msst` does (`splifft_core.msst.write_imported`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from splifft_core.atomic import os_reason, read_regular_text
from splifft_core.errors import SplifftError, UvrModelDataError, validation_message
from splifft_core.models import ArchitectureSpec, resolve
from splifft_core.msst import Conversion, ImportResult, write_imported
from splifft_core.plugins import PluginHost, get_host

UVR_HASH_BYTES = 10_000 * 1024
"""UVR hashes the last 10,240,000 bytes of a model file (all of a smaller one)."""
UVR_PAIRS = {"Vocals": "Instrumental", "Instrumental": "Vocals"}
"""UVR's stem pairs; every other stem `X` pairs with `No X`."""
NO_STEM = "No "


def uvr_stem_name(uvr_stem: str) -> str:
    """UVR's stem name in ours (`Vocals` → `vocals`, `Instrumental` → `instrum`, `No Reverb` →
    `no_reverb`), for every UVR family."""
    if uvr_stem == "Vocals":
        return "vocals"
    if uvr_stem == "Instrumental":
        return "instrum"
    return uvr_stem.strip().lower().replace(" ", "_")


def uvr_secondary_stem(uvr_stem: str) -> str:
    """UVR's name of the stem that is left when `uvr_stem` is taken out."""
    if uvr_stem in UVR_PAIRS:
        return UVR_PAIRS[uvr_stem]
    return uvr_stem[len(NO_STEM) :] if uvr_stem.startswith(NO_STEM) else NO_STEM + uvr_stem


def uvr_model_hash(path: Path) -> str:
    """The md5 hex digest UVR and audio-separator compute for `path` (its model-data key)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - UVR_HASH_BYTES))
        return hashlib.md5(handle.read()).hexdigest()


def _model_data(path: Path) -> dict[str, Any]:
    """One entry of UVR's model-data layout from a JSON file; `{hash: entry}` is unwrapped."""
    try:
        data = json.loads(read_regular_text(path))
    except OSError as exc:
        raise UvrModelDataError(f"{path}: cannot read model data ({os_reason(exc)})") from None
    except ValueError as exc:
        raise UvrModelDataError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UvrModelDataError(f"{path}: model data must be a JSON object")
    if len(data) == 1:
        ((key, value),) = data.items()
        if re.fullmatch(r"[0-9a-f]{32}", key) and isinstance(value, dict):
            data = value
    return data


def _importers(suffix: str, host: PluginHost) -> list[ArchitectureSpec]:
    specs = [s for s in host.architectures().values() if s.uvr_import]
    chosen = [s for s in specs if suffix in s.uvr_suffixes]
    if not chosen:
        known = sorted({x for s in specs for x in s.uvr_suffixes})
        raise UvrModelDataError(
            f"no installed plugin imports UVR {suffix or 'suffix-less'} model files "
            f"(the installed ones import: {', '.join(known) or 'none'})"
        )
    return sorted(chosen, key=lambda s: s.name)


def _convert(
    spec: ArchitectureSpec, model_file: Path, model_hash: str, model_data: dict[str, Any] | None
) -> tuple[Conversion, dict[str, Any]]:
    assert spec.uvr_import is not None
    try:
        result = resolve(spec.uvr_import)(model_file, model_hash, model_data)
    except SplifftError:
        raise
    except Exception as exc:  # a plugin bug: one line, not a traceback
        raise UvrModelDataError(
            f"{model_file}: {spec.name} importer failed ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(result, dict) or not isinstance(result.get("params"), dict):
        raise UvrModelDataError(f"{model_file}: {spec.name} importer returned no 'params'")
    try:
        spec.parse_params(result["params"])
    except ValidationError as exc:
        raise UvrModelDataError(
            f"{model_file}: imported params are invalid: {validation_message(exc, 'params')}"
        ) from None
    inference = result.get("inference") or {}
    if not isinstance(inference, dict):
        raise UvrModelDataError(f"{model_file}: {spec.name} importer returned bad 'inference'")
    return Conversion(spec, dict(result["params"]), dict(inference)), result


def import_uvr(
    model_file: Path,
    *,
    identifier: str | None = None,
    model_data: Path | None = None,
    force: bool = False,
    host: PluginHost | None = None,
) -> ImportResult:
    """Write `{data_dir}/manifests/{identifier}.json` for a UVR model file (its suffix picks the
    plugin): parameters from `model_data` (UVR's JSON layout) or, without it, from the
    plugin's copy of UVR's model-data tables keyed by `uvr_model_hash`."""
    host = host or get_host()
    model_file = model_file.expanduser().resolve()
    if not model_file.is_file():
        raise UvrModelDataError(f"{model_file}: model file not found")
    entry = _model_data(model_data) if model_data is not None else None
    model_hash = uvr_model_hash(model_file)
    specs = _importers(model_file.suffix.lower(), host)
    complaints: list[str] = []
    for spec in specs:
        try:
            conversion, result = _convert(spec, model_file, model_hash, entry)
        except UvrModelDataError as exc:
            complaints.append(str(exc))
            continue
        source = f"model data {model_data.resolve()}" if model_data else f"UVR hash {model_hash}"
        return write_imported(
            conversion,
            model_file,
            identifier=identifier,
            description=str(
                result.get("description")
                or f"Imported with `splifft import-uvr` from {model_file} ({source})."
            ),
            derived_stems=result.get("derived_stems"),
            force=force,
            host=host,
        )
    raise UvrModelDataError("; ".join(complaints))
