"""`load`: from an identifier (or manifest file) to a ready separator."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from splifft_core.config import InferenceConfig, Precision
from splifft_core.errors import ConfigError, ManifestError, PluginError, validation_message
from splifft_core.manifest import Manifest
from splifft_core.plugins import PluginHost, get_host
from splifft_core.registry import ManifestEntry, resolve_manifest

if TYPE_CHECKING:
    from pydantic import BaseModel

    from splifft_core.analyzer import Analyzer
    from splifft_core.ensemble_run import EnsembleSeparator
    from splifft_core.hub import DownloadProgress, Notify
    from splifft_core.models import ArchitectureSpec
    from splifft_core.separator import Separator


def architecture_for(manifest: Manifest, host: PluginHost | None = None) -> ArchitectureSpec:
    """The installed spec for a manifest, or an error saying which plugin failed or is missing."""
    host = host or get_host()
    try:
        return host.architecture(manifest.architecture, manifest.plugin)
    except PluginError as exc:
        raise PluginError(f"model {manifest.identifier!r}: {exc}") from None


def inference_config(manifest: Manifest, **overrides: Any) -> InferenceConfig:
    """The manifest's defaults with the non-`None` overrides applied."""
    values: dict[str, Any] = manifest.inference.model_dump()
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return InferenceConfig(**values, derived_stems=manifest.derived_stems)
    except ValidationError as exc:
        raise ConfigError(
            f"{manifest.identifier}: invalid inference setting {validation_message(exc)}"
        ) from None


def check_manifest_against_params(manifest: Manifest, params: Any) -> None:
    """The manifest's stems (a separator's), sample rate and channels are its params'."""
    declared: dict[str, Any] = {
        "sample_rate": manifest.sample_rate,
        "channels": manifest.channels,
    }
    actual: dict[str, Any] = {
        "sample_rate": int(params.sample_rate),
        "channels": int(params.audio_channels),
    }
    if manifest.task == "separation":
        declared["stems"] = list(manifest.stems)
        actual["stems"] = list(params.output_stem_names)
    for key, value in declared.items():
        if actual[key] != value:
            raise ManifestError(
                f"model {manifest.identifier!r}: manifest says {key} = {value}, its params give "
                f"{actual[key]}"
            )


def load(
    model: str | Path,
    *,
    device: str | None = "auto",
    stems: Sequence[str] | None = None,
    chunk_size: int | None = None,
    overlap_ratio: float | None = None,
    batch_size: int | None = None,
    window_shape: str | None = None,
    padding_mode: str | None = None,
    normalize: bool | None = None,
    precision: Precision | None = None,
    tta: bool | None = None,
    shifts: int | None = None,
    host: PluginHost | None = None,
    notify: Notify | None = None,
    on_download: DownloadProgress | None = None,
    tune_malloc: bool | None = None,
    fast_kernels: bool | None = None,
) -> Separator:
    """A separator for a registry identifier or a manifest JSON file.

    Weights are fetched (or found in the cache) and verified against the manifest's sha256;
    `notify` hears one-line messages (default: the `splifft` logger), `on_download` the bytes of
    each download. The inference keywords override the manifest's defaults; `tune_malloc` and
    `fast_kernels` are `Separator.from_spec`'s (`None`: the `SPLIFFT_*` settings).
    """
    entry, spec, params = _resolve(model, host)
    manifest = entry.manifest
    if manifest.task != "separation":
        raise ConfigError(
            f"model {manifest.identifier!r} is a {manifest.task} model: use "
            f"splifft.load_analyzer({manifest.identifier!r}).analyze(audio, sample_rate)"
        )
    check_manifest_against_params(manifest, params)
    config = inference_config(
        manifest,
        chunk_size=chunk_size,
        overlap_ratio=overlap_ratio,
        batch_size=batch_size,
        window_shape=window_shape,
        padding_mode=padding_mode,
        normalize=normalize,
        precision=precision,
        tta=tta,
        shifts=shifts,
    )
    from splifft_core import hub

    weights = hub.fetch_weights(manifest, entry.base_dir, notify, on_download)
    from splifft_core.separator import Separator  # torch: only once the weights are here

    return Separator.from_spec(
        spec,
        params,
        weights or None,
        inference=config,
        device=device,
        stems=stems,
        identifier=manifest.identifier,
        tune_malloc=tune_malloc,
        fast_kernels=fast_kernels,
    )


def load_ensemble(
    models: str | Path | Sequence[str | Path],
    kind: str | None = None,
    weights: Sequence[float] | None = None,
    *,
    stems: Sequence[str] | None = None,
    **options: Any,
) -> EnsembleSeparator:
    """Several models combined per stem (`splifft_core.ensemble_run.EnsembleSeparator`).

    `models` is a list of identifiers (or manifest files) with `kind` (an ensemble type) and
    `weights`, or one ensemble preset's identifier (its members, type and weights; `kind` and
    `weights` override them). `options` are `load`'s, applied to every member.
    """
    from splifft_core.ensemble_run import EnsembleSeparator

    host = options.get("host")
    identifier = "ensemble"
    if isinstance(models, str | Path):
        preset = resolve_manifest(models, host).manifest
        if preset.ensemble is None:
            raise ConfigError(
                f"model {preset.identifier!r} is not an ensemble preset: pass two or more models"
            )
        identifier = preset.identifier
        members: list[str | Path] = [m.model for m in preset.ensemble.members]
        kind = kind or preset.ensemble.type
        weights = weights or [m.weight for m in preset.ensemble.members]
        stems = stems or preset.stems
    else:
        members = list(models)
    if kind is None:
        raise ConfigError("an ensemble needs its type (--ensemble TYPE), e.g. avg_wave")
    loaded = [load(m, **options) for m in members]
    return EnsembleSeparator.build(loaded, kind, weights, stems=stems, identifier=identifier)


def load_separator(model: str | Path, **options: Any) -> Separator | EnsembleSeparator:
    """`load` for a model, `load_ensemble` for an ensemble preset: whatever separates stems
    by this identifier (the web app's jobs and batches take either)."""
    if resolve_manifest(model, options.get("host")).manifest.ensemble is not None:
        return load_ensemble(model, **options)
    return load(model, **options)


def _resolve(
    model: str | Path, host: PluginHost | None
) -> tuple[ManifestEntry, ArchitectureSpec, BaseModel]:
    """The manifest, its architecture's spec and the validated params."""
    entry: ManifestEntry = resolve_manifest(model, host)
    manifest = entry.manifest
    if manifest.ensemble is not None:
        raise ConfigError(
            f"model {manifest.identifier!r} is an ensemble preset: use "
            f"splifft.load_ensemble({manifest.identifier!r})"
        )
    spec = architecture_for(manifest, host)
    try:
        params = spec.parse_params(manifest.params)
    except ValidationError as exc:
        raise ManifestError(
            f"{entry.origin}: model {manifest.identifier!r}: invalid params for {spec.name!r}: "
            f"params.{validation_message(exc)}"
        ) from None
    if spec.task != manifest.task:
        raise ManifestError(
            f"{entry.origin}: model {manifest.identifier!r} says task {manifest.task!r}, its "
            f"architecture {spec.name!r} is a {spec.task} model"
        )
    return entry, spec, params


def load_analyzer(
    model: str | Path,
    *,
    device: str | None = "auto",
    batch_size: int | None = None,
    precision: Precision | None = None,
    host: PluginHost | None = None,
    notify: Notify | None = None,
    on_download: DownloadProgress | None = None,
) -> Analyzer:
    """An analyzer (pitch, notes, beats) for a registry identifier or a manifest JSON file.

    `load`'s sibling for analysis models, so that each returns one type: weights are fetched
    and verified the same way; `batch_size` and `precision` default to the manifest's.
    """
    entry, spec, params = _resolve(model, host)
    manifest = entry.manifest
    if manifest.task == "separation":
        raise ConfigError(
            f"model {manifest.identifier!r} separates stems: use splifft.load("
            f"{manifest.identifier!r}).separate(audio, sample_rate)"
        )
    check_manifest_against_params(manifest, params)
    from splifft_core import hub

    weights = hub.fetch_weights(manifest, entry.base_dir, notify, on_download)
    from splifft_core.analyzer import Analyzer  # torch: only once the weights are here

    return Analyzer.from_spec(
        spec,
        params,
        weights or None,
        device=device,
        batch_size=batch_size or manifest.inference.batch_size,
        precision=precision or "float32",
        identifier=manifest.identifier,
    )
