"""`splifft import-msst`: a Music-Source-Separation-Training yaml + checkpoint → a user-local manifest.

The yaml is loaded safely: plain YAML plus `!!python/tuple` (MSST configs use it); any other
Python tag is refused, and so are aliases that expand the config by more than
`MAX_ALIAS_EXPANSION` values (a "billion laughs" yaml of a few hundred bytes would otherwise
expand to billions) or refer to themselves. The architecture comes from `--model-type` (MSST's
own names) or, without it, from the one installed converter (`ArchitectureSpec.msst_import`)
that accepts the config. The checkpoint is checked before the manifest is written: read safely
(`torch.load(weights_only=True)` or safetensors, or the plugin's own `checkpoint_loader`) and
loaded strictly into the network the imported params build, as `splifft run` will.

Messages quote values only shortened (`MAX_MESSAGE` characters per complaint).
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import yaml
from pydantic import ValidationError

from splifft_core import paths
from splifft_core.atomic import cannot_write, os_reason, read_regular_text, write_text_atomic
from splifft_core.errors import (
    CheckpointError,
    ManifestError,
    ModelNotFoundError,
    MsstConfigError,
    SplifftError,
    validation_message,
)
from splifft_core.manifest import IDENTIFIER_PATTERN, InferenceDefaults, Manifest
from splifft_core.models import ArchitectureSpec, ModelParamsLike, resolve
from splifft_core.plugins import PluginHost, get_host

if TYPE_CHECKING:
    from pydantic import BaseModel


MAX_ALIAS_EXPANSION: Final = 10_000
"""How many values aliases may add to a config (MSST's own configs use none)."""

MAX_MESSAGE: Final = 300
"""Characters of one converter's complaint kept in a message."""


class MsstYamlLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that also builds `!!python/tuple` as a tuple, and nothing else from Python,
    and refuses aliases that expand beyond `MAX_ALIAS_EXPANSION` values or recurse."""

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is not None:
            _check_aliases(node)
        return node


class _AliasError(Exception):
    pass


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    return []


def _check_aliases(root: yaml.Node) -> None:
    """Count the document's nodes once each, then as aliases expand them; refuse a blow-up."""
    distinct: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in distinct:
            distinct.add(id(node))
            stack.extend(_children(node))
    limit = len(distinct) + MAX_ALIAS_EXPANSION
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _AliasError(f"an alias refers to itself (line {node.start_mark.line + 1})")
        active.add(key)
        total = 1
        for child in _children(node):
            total += size(child)
            if total > limit:
                break
        active.discard(key)
        sizes[key] = min(total, limit + 1)
        return sizes[key]

    if size(root) > limit:
        raise _AliasError(
            f"its aliases expand it by more than {MAX_ALIAS_EXPANSION} values (a yaml bomb?)"
        )


def _construct_tuple(loader: MsstYamlLoader, node: yaml.Node) -> tuple[Any, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(
            None, None, "!!python/tuple must tag a sequence", node.start_mark
        )
    return tuple(loader.construct_sequence(node, deep=True))


MsstYamlLoader.add_constructor("tag:yaml.org,2002:python/tuple", _construct_tuple)


def load_msst_yaml(path: Path) -> dict[str, Any]:
    """The config as a dict; a one-line `MsstConfigError` for unreadable or unsafe yaml."""
    try:
        text = read_regular_text(path)
    except OSError as exc:
        raise MsstConfigError(f"{path}: cannot read config ({os_reason(exc)})") from None
    except UnicodeDecodeError:
        raise MsstConfigError(f"{path}: config is not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=MsstYamlLoader)  # a SafeLoader subclass
    except _AliasError as exc:
        raise MsstConfigError(f"{path}: refusing the config: {exc}") from None
    except RecursionError:
        raise MsstConfigError(f"{path}: refusing the config: it is nested too deeply") from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1})" if mark is not None else ""
        tag = re.search(r"tag '([^']+)'", str(exc.problem or ""))
        what = f"tag {tag.group(1)!r}" if tag else " ".join(str(exc.problem or exc).split())
        raise MsstConfigError(
            f"{path}{where}: refusing to construct {what}: only plain YAML and !!python/tuple "
            "are allowed"
        ) from None
    except yaml.YAMLError as exc:
        raise MsstConfigError(f"{path}: not valid YAML ({_one_line(exc)})") from None
    if not isinstance(data, dict):
        raise MsstConfigError(f"{path}: expected a mapping at the top level of the config")
    return data


@dataclass(frozen=True)
class Conversion:
    spec: ArchitectureSpec
    params: dict[str, Any]
    inference: dict[str, Any]


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line, at most `MAX_MESSAGE` characters."""
    text = " ".join(str(exc)[: MAX_MESSAGE * 4].split()) or type(exc).__name__
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _convert(
    spec: ArchitectureSpec, config: dict[str, Any], model_type: str | None = None
) -> Conversion:
    """Run one converter; its own complaint or a malformed result is a `MsstConfigError`.

    A converter with a `model_type` keyword hears `--model-type` (MSST tells some variants
    apart by that flag alone, their yamls being alike)."""
    assert spec.msst_import is not None
    converter = resolve(spec.msst_import)
    try:
        takes_type = "model_type" in inspect.signature(converter).parameters
    except (TypeError, ValueError):
        takes_type = False
    try:
        if takes_type:
            result = converter(copy.deepcopy(config), model_type=model_type)
        else:
            result = converter(copy.deepcopy(config))
    except MsstConfigError:
        raise
    except Exception as exc:  # a converter bug must not hide the others' answers
        raise MsstConfigError(
            f"converter failed ({type(exc).__name__}: {_one_line(exc)})"
        ) from None
    if not isinstance(result, dict) or not isinstance(result.get("params"), dict):
        raise MsstConfigError("converter returned no 'params' mapping")
    inference = result.get("inference") or {}
    if not isinstance(inference, dict):
        raise MsstConfigError("converter returned a non-mapping 'inference'")
    try:
        spec.parse_params(result["params"])
    except ValidationError as exc:
        raise MsstConfigError(
            f"converted params are invalid: {validation_message(exc, 'params')}"
        ) from None
    return Conversion(spec, dict(result["params"]), dict(inference))


def infer_architecture(
    config: dict[str, Any], model_type: str | None = None, host: PluginHost | None = None
) -> Conversion:
    """The conversion of `config` by the one installed architecture that takes it."""
    host = host or get_host()
    importers = [s for s in host.architectures().values() if s.msst_import]
    if not importers:
        raise MsstConfigError(
            "no installed plugin imports MSST configs (install e.g. splifft-plugin-roformer)"
        )
    if model_type is not None:
        chosen = [s for s in importers if model_type in s.msst_model_types]
        if not chosen:
            known = sorted({t for s in importers for t in s.msst_model_types})
            raise MsstConfigError(
                f"no installed plugin imports MSST model type {model_type!r} "
                f"(known: {', '.join(known) or 'none'})"
            )
        importers = chosen
    accepted: list[Conversion] = []
    complaints: list[str] = []
    for spec in sorted(importers, key=lambda s: s.name):
        try:
            accepted.append(_convert(spec, config, model_type))
        except MsstConfigError as exc:
            complaints.append(f"{spec.name}: {_one_line(exc)}")
    if len(accepted) == 1:
        return accepted[0]
    if accepted:
        names = ", ".join(
            f"{c.spec.name} (--model-type {'/'.join(c.spec.msst_model_types) or '?'})"
            for c in accepted
        )
        raise MsstConfigError(f"the config fits several architectures: {names}; pass --model-type")
    if model_type is not None:
        raise MsstConfigError(f"cannot import as {model_type!r}: " + "; ".join(complaints))
    raise MsstConfigError(
        "no installed architecture accepts this config (pass --model-type to pick one): "
        + " | ".join(complaints)
    )


def sanitize_part(text: str) -> str:
    """A lowercase identifier part: `[a-z0-9_]`, starting with a letter or digit."""
    part = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return part or "model"


def default_identifier(architecture: str, checkpoint: Path) -> str:
    return f"{architecture}-custom-{sanitize_part(checkpoint.stem)}"


def _inference_defaults(values: dict[str, Any], identifier: str) -> dict[str, Any]:
    names = {f.alias or name for name, f in InferenceDefaults.model_fields.items()}
    known = {k: v for k, v in values.items() if k in names}
    cleaned = {k: v for k, v in known.items() if v is not None}
    try:
        InferenceDefaults.model_validate(cleaned)
    except ValidationError as exc:
        raise MsstConfigError(
            f"{identifier}: imported inference setting {validation_message(exc)}"
        ) from None
    return cleaned


@dataclass(frozen=True)
class ImportResult:
    manifest: Manifest
    path: Path


def import_msst(
    config_path: Path,
    checkpoint: Path,
    *,
    identifier: str | None = None,
    model_type: str | None = None,
    force: bool = False,
    host: PluginHost | None = None,
) -> ImportResult:
    """Write `{data_dir}/manifests/{identifier}.json` for an MSST config and checkpoint."""
    host = host or get_host()
    checkpoint = checkpoint.expanduser().resolve()
    if not checkpoint.is_file():
        raise MsstConfigError(f"{checkpoint}: checkpoint file not found")
    config = load_msst_yaml(config_path)
    try:
        conversion = infer_architecture(config, model_type, host)
    except MsstConfigError as exc:
        raise MsstConfigError(f"{config_path}: {exc}") from None
    try:
        return write_imported(
            conversion,
            checkpoint,
            identifier=identifier,
            description=f"Imported with `splifft import-msst` from {config_path.resolve()}.",
            force=force,
            host=host,
        )
    except CheckpointError as exc:
        others = sorted(
            {t for s in host.architectures().values() for t in s.msst_model_types}
            - set(conversion.spec.msst_model_types)
        )
        if model_type is not None or not others:
            raise
        raise CheckpointError(
            f"{exc}; read as {conversion.spec.name}: if the checkpoint is a variant whose yaml "
            f"reads alike, pass --model-type ({', '.join(others)})"
        ) from None


def write_imported(
    conversion: Conversion,
    checkpoint: Path,
    *,
    identifier: str | None,
    description: str,
    force: bool,
    host: PluginHost,
    derived_stems: dict[str, Any] | None = None,
) -> ImportResult:
    """Check `checkpoint` against the converted params and write the user-local manifest
    (`import-msst` and `import-uvr`)."""
    from splifft_core.hub import sha256_of
    from splifft_core.registry import load_registry

    spec = conversion.spec
    params = cast(ModelParamsLike, spec.parse_params(conversion.params))
    ident = identifier or default_identifier(spec.name, checkpoint)
    if not re.match(IDENTIFIER_PATTERN, ident) or not ident.startswith(spec.name + "-"):
        raise ManifestError(
            f"identifier {ident!r} must look like '{spec.name}-AUTHOR-NAME' (lowercase letters, "
            "digits and underscores, hyphens between the three parts)"
        )
    target = paths.user_manifests_dir() / f"{ident}.json"
    registry = load_registry(host)
    try:
        existing = registry.get(ident)
    except (ModelNotFoundError, ManifestError):
        existing = None
    if existing is not None and not (force and existing.source == "user"):
        hint = " (pass --force to replace it)" if existing.source == "user" else ""
        raise ManifestError(
            f"model {ident!r} already exists ({existing.source} manifest {existing.origin}); "
            f"choose another --id{hint}"
        )
    if target.exists() and not force:
        raise ManifestError(f"{target} already exists (pass --force to replace it)")
    check_checkpoint(spec, cast("BaseModel", params), checkpoint)

    stems = [str(s) for s in params.output_stem_names]
    raw: dict[str, Any] = {
        "identifier": ident,
        "architecture": spec.name,
        "plugin": _distribution_of(spec.name, host),
        "params": json.loads(json.dumps(conversion.params)),
        "stems": stems,
        "sample_rate": int(params.sample_rate),
        "channels": int(params.audio_channels),
        "resources": [
            {
                "kind": "local",
                "path": str(checkpoint),
                "sha256": sha256_of(checkpoint),
                "size": checkpoint.stat().st_size,
            }
        ],
        "authors": [],
        "description": description,
        "inference": _inference_defaults(conversion.inference, ident),
    }
    if derived_stems is not None:
        raw["derived_stems"] = derived_stems
    elif "vocals" in stems and not {"instrum", "instrumental"} & set(stems):
        raw["derived_stems"] = {"instrum": {"plus": ["mixture"], "minus": ["vocals"]}}
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise ManifestError(
            f"imported manifest {ident!r}: {validation_message(exc, 'manifest')}"
        ) from None
    data = manifest.model_dump(mode="json", exclude_none=True, by_alias=True)
    data["params"] = raw["params"]  # `None` may be a meaningful param value: keep it
    _write_json(target, data)
    return ImportResult(manifest, target)


def _distribution_of(architecture: str, host: PluginHost) -> str | None:
    plugin_name = host.architecture_providers().get(architecture)
    for info in host.plugins:
        if info.name == plugin_name:
            return info.distribution
    return None


def check_checkpoint(spec: ArchitectureSpec, params: BaseModel, checkpoint: Path) -> None:
    """Load `checkpoint` into the network `spec` builds from `params`, as `splifft run` will.

    Safely (the core's `read_state_dict`, or the plugin's `checkpoint_loader`: never pickled
    code) and strictly (every key and shape); a `CheckpointError` line naming the file otherwise.
    """
    from splifft_core.checkpoint import load_into, read_state_dict

    try:
        network = spec.build_model(params)
    except SplifftError:
        raise
    except Exception as exc:
        raise MsstConfigError(
            f"{spec.name}: cannot build the network from the imported params ({_one_line(exc)})"
        ) from None
    try:
        if spec.checkpoint_loader is not None:
            loader = resolve(spec.checkpoint_loader)
            loader(network, params, [checkpoint])
        else:
            state = spec.transform_checkpoint(read_state_dict(checkpoint), params)
            load_into(network, state, str(checkpoint))
    except SplifftError:
        raise
    except Exception as exc:
        raise CheckpointError(
            f"{checkpoint}: does not load into {spec.name} ({type(exc).__name__}: {_one_line(exc)})"
        ) from None


def _write_json(target: Path, data: dict[str, Any]) -> None:
    try:
        write_text_atomic(target, json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise ManifestError(cannot_write(target, exc, "manifest")) from None
