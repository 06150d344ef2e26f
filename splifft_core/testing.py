"""The contract test kit: checks every plugin's tests run for each of their architectures.

```python
from splifft_core.testing import check_architecture, check_manifests

def test_contract():
    check_architecture(MY_SPEC, {"dim": 8, ...})

def test_manifests():
    assert len(check_manifests(MY_SPEC, my_plugin.splifft_manifests())) == 3
```

The kit depends on `splifft_core` only, so third-party plugins can use every check.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib
import io
import os
import sys
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import yaml
from pydantic import BaseModel, ValidationError
from torch.overrides import TorchFunctionMode

from splifft_core.api import check_manifest_against_params
from splifft_core.config import InferenceConfig
from splifft_core.errors import ManifestError
from splifft_core.hookspecs import hookimpl
from splifft_core.manifest import Manifest
from splifft_core.models import ArchitectureSpec, ModelParamsLike, resolve
from splifft_core.plugins import PluginHost
from splifft_core.registry import builtin_manifest_files, parse_manifests, read_manifest_file
from splifft_core.separator import Checkpoint, Separator


def check_params_roundtrip(spec: ArchitectureSpec, params: Mapping[str, Any]) -> BaseModel:
    """Params validate, dump to JSON and validate back to an equal object."""
    parsed = spec.parse_params(params)
    assert isinstance(parsed, ModelParamsLike), (
        f"{spec.name}: params must provide chunk_size, output_stem_names, audio_channels and "
        "sample_rate"
    )
    again = spec.params_model.model_validate_json(parsed.model_dump_json())
    assert again == parsed, f"{spec.name}: params do not survive a JSON round trip"
    stems = tuple(parsed.output_stem_names)
    assert stems and len(set(stems)) == len(stems), f"{spec.name}: stems must be unique"
    assert parsed.chunk_size > 0 and parsed.sample_rate > 0 and parsed.audio_channels > 0
    return parsed


def check_forward_shape(separator: Separator, batch_size: int = 2) -> torch.Tensor:
    """`separator.model` maps `(b, c, chunk)` to `(b, stems, c, chunk)`, finite."""
    chunk = separator.chunk_size
    x = torch.randn(
        batch_size, separator.channels, chunk, generator=torch.Generator().manual_seed(0)
    )
    with torch.inference_mode():
        y: torch.Tensor = separator.model(x.to(separator.device)).float().cpu()
    expected = (batch_size, len(separator.model_stems), separator.channels, chunk)
    assert tuple(y.shape) == expected, (
        f"{separator.spec.name}: forward gave {tuple(y.shape)}, expected {expected}"
    )
    assert torch.isfinite(y).all(), f"{separator.spec.name}: forward output is not finite"
    return y


def check_chunked_run(separator: Separator) -> None:
    """A track shorter than a chunk and one of ~2.5 chunks come back with the right shapes."""
    chunk = separator.chunk_size
    generator = torch.Generator().manual_seed(1)
    for length in (max(1, chunk // 3), chunk * 5 // 2 + 7):
        audio = 0.1 * torch.randn(separator.channels, length, generator=generator)
        stems = separator.separate(audio, sample_rate=separator.sample_rate)
        assert set(stems) == set(separator.stems), f"{separator.spec.name}: stems {set(stems)}"
        for name, value in stems.items():
            assert tuple(value.shape) == (separator.channels, length), (
                f"{separator.spec.name}: stem {name} has shape {tuple(value.shape)}"
            )
            assert torch.isfinite(value).all(), f"{separator.spec.name}: stem {name} not finite"


def check_checkpoint_roundtrip(
    separator: Separator, spec: ArchitectureSpec, params: BaseModel
) -> None:
    """A state dict saved with `torch.save` loads with `weights_only=True` and computes the same."""
    buffer = io.BytesIO()
    torch.save(separator.model.network.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    fresh = Separator.from_spec(
        spec, params, state, inference=separator.inference, device=separator.device
    )
    x = torch.randn(
        1, separator.channels, separator.chunk_size, generator=torch.Generator().manual_seed(2)
    )
    with torch.inference_mode():
        a = separator.model(x.to(separator.device)).cpu()
        b = fresh.model(x.to(separator.device)).cpu()
    assert torch.allclose(a, b, atol=1e-6), f"{spec.name}: reloaded weights compute differently"


def check_architecture(
    spec: ArchitectureSpec,
    params: Mapping[str, Any],
    *,
    inference: InferenceConfig | None = None,
) -> None:
    """Run every contract check; `params` should be small so the checks are quick."""
    parsed = check_params_roundtrip(spec, params)
    torch.manual_seed(0)
    separator = Separator.from_spec(
        spec, parsed, None, inference=inference or InferenceConfig(overlap_ratio=0.25), device="cpu"
    )
    with torch.no_grad():
        # Random-initialised weights: give every parameter a non-trivial value so that the
        # checkpoint round trip compares real numbers.
        for tensor in separator.model.network.state_dict().values():
            if tensor.is_floating_point() and tensor.numel() and not tensor.any():
                tensor.normal_(0, 0.02)
    check_forward_shape(separator)
    check_chunked_run(separator)
    check_checkpoint_roundtrip(separator, spec, parsed)


# -- manifests ----------------------------------------------------------------------------------

ManifestSource = Manifest | Mapping[str, Any] | Path
"""A manifest, its dict, or a JSON file holding one or a list (what `splifft_manifests` returns)."""


def builtin_manifests(architecture: str) -> list[Manifest]:
    """The built-in catalogue's (`registry/`) manifests of `architecture`, sorted by identifier."""
    found = [m for path in builtin_manifest_files() for m in read_manifest_file(path)]
    return sorted((m for m in found if m.architecture == architecture), key=lambda m: m.identifier)


def _read_manifests(sources: Iterable[ManifestSource]) -> list[Manifest]:
    out: list[Manifest] = []
    try:
        for item in sources:
            if isinstance(item, Manifest):
                out.append(item)
            elif isinstance(item, Mapping):
                out.extend(parse_manifests(dict(item), "manifest dict"))
            else:
                out.extend(read_manifest_file(Path(item)))
    except ManifestError as exc:
        raise AssertionError(str(exc)) from None
    return out


def _manifest_params(spec: ArchitectureSpec, manifest: Manifest) -> BaseModel:
    """The manifest's params, parsed by `spec`, agreeing with its stems, rate and channels."""
    try:
        params = spec.parse_params(manifest.params)
    except ValidationError as exc:
        raise AssertionError(
            f"{manifest.identifier}: params rejected by {spec.name}: {exc}"
        ) from None
    assert isinstance(params, ModelParamsLike), (
        f"{manifest.identifier}: params do not satisfy ModelParamsLike"
    )
    try:
        check_manifest_against_params(manifest, params)
    except ManifestError as exc:
        raise AssertionError(str(exc)) from None
    return params


def _spread(count: int, total: int) -> set[int]:
    """`count` indices spread evenly over `range(total)`, the first and the last included."""
    if count <= 0 or total == 0:
        return set()
    if count == 1:
        return {0}
    if count >= total:
        return set(range(total))
    return {round(i * (total - 1) / (count - 1)) for i in range(count)}


def check_manifests(
    spec: ArchitectureSpec,
    manifests: Iterable[ManifestSource] | None = None,
    *,
    plugin: str | None = None,
    build: int | Literal["all"] | Collection[str] = 1,
    device: str = "meta",
    size_slack: int | None = None,
) -> list[str]:
    """Every manifest of `spec` validates, and its params parse and agree with it.

    Checks each manifest whose `architecture` is `spec.name`: its params validate with the spec's
    params model, and its `stems`, `sample_rate` and `channels` equal the params'.

    Args:
        spec: The architecture.
        manifests: Manifests, their dicts or JSON files (what a `splifft_manifests` hook
            returns); by default the built-in catalogue's (`registry/`).
        plugin: The distribution every manifest must name as its `plugin`.
        build: Which manifests to build, with random weights: how many (spread over them, by
            identifier), `"all"`, or their identifiers.
        device: Where to build them: the default `"meta"` allocates no memory (use `"cpu"` for
            networks whose constructors compute on tensors the meta device cannot).
        size_slack: If given, every manifest whose weight files all have a published `size` is
            built, and those sizes must exceed the network's tensor bytes by less than
            `size_slack` bytes a file (pickling overhead): the params describe the checkpoint.

    Returns:
        The identifiers checked, sorted: assert how many your plugin has.
    """
    found = builtin_manifests(spec.name) if manifests is None else _read_manifests(manifests)
    selected = sorted((m for m in found if m.architecture == spec.name), key=lambda m: m.identifier)
    identifiers = [m.identifier for m in selected]
    assert identifiers, f"{spec.name}: no manifest names this architecture"
    assert len(set(identifiers)) == len(identifiers), f"{spec.name}: identifiers repeat"
    if build == "all":
        to_build = set(range(len(selected)))
    elif isinstance(build, int):
        to_build = _spread(build, len(selected))
    else:
        unknown = sorted(set(build) - set(identifiers))
        assert not unknown, f"{spec.name}: asked to build unknown manifests {unknown}"
        to_build = {identifiers.index(i) for i in build}
    sized = 0
    for index, manifest in enumerate(selected):
        params = _manifest_params(spec, manifest)
        if plugin is not None:
            assert manifest.plugin == plugin, (
                f"{manifest.identifier}: plugin is {manifest.plugin!r}, expected {plugin!r}"
            )
        sizes = [r.size for r in manifest.weight_resources()]
        published = [s for s in sizes if s is not None]
        check_size = size_slack is not None and bool(sizes) and len(published) == len(sizes)
        if index not in to_build and not check_size:
            continue
        with torch.device(device):
            network = spec.build_model(params)
        if size_slack is not None and check_size:
            sized += 1
            tensors = sum(t.numel() * t.element_size() for t in network.state_dict().values())
            overhead = sum(published) - tensors
            assert 0 < overhead < size_slack * len(published), (
                f"{manifest.identifier}: the weight files hold {sum(published)} bytes, the params "
                f"describe {tensors} bytes of tensors"
            )
    assert size_slack is None or sized, f"{spec.name}: no manifest publishes its weights' size"
    return identifiers


# -- whole-engine goldens ------------------------------------------------------------------------


def with_float64_network(separator: Separator) -> Separator:
    """`separator` with its chunk model computing in float64 behind a float32 interface.

    For goldens of a whole engine run (a reference's chunking loop around the same network run
    in float64): chunking, windows and accumulation stay as they are, and the network's float32
    rounding, which with random weights reaches 1e-3 of the peak and differs between CPUs,
    drops out of the comparison.
    """
    model = copy.deepcopy(separator.model).double()
    model.register_forward_pre_hook(lambda _, args: (args[0].double(), *args[1:]))
    model.register_forward_hook(lambda _, args, out: out.float())
    return dataclasses.replace(separator, model=model)


# -- stem selection -----------------------------------------------------------------------------


def perturb_weights(module: torch.nn.Module, seed: int = 0, scale: float = 0.1) -> None:
    """Move every floating-point parameter of `module` off its initial value, reproducibly.

    Each becomes `p * (1 + scale * n) + scale / 10 * m`, with `n` and `m` standard normal noise
    from a generator seeded with `seed`: zero-initialised heads and unit norm scales stop being
    special, so different stems give different outputs.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            if not parameter.is_floating_point():
                continue
            gain = torch.randn(parameter.shape, generator=generator)
            shift = torch.randn(parameter.shape, generator=generator)
            parameter.mul_((1 + scale * gain).to(parameter)).add_(
                (scale / 10 * shift).to(parameter)
            )


@dataclass(frozen=True)
class StemSelectionCounts:
    """Parameter counts of the full and the pruned network, from `check_stem_selection`."""

    full_parameters: int
    pruned_parameters: int
    full_active: int
    """Parameters the full network's forward used (passed to a torch function)."""
    pruned_active: int
    """Parameters the pruned network's forward used."""


class _ParameterUse(TorchFunctionMode):
    """Records the ids of the tensors passed to any torch function while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[int] = set()

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        pending: list[Any] = [*args, *kwargs.values()]
        while pending:
            item = pending.pop()
            if isinstance(item, torch.Tensor):
                self.seen.add(id(item))
            elif isinstance(item, list | tuple):
                pending.extend(item)
        return func(*args, **kwargs)


def _run_counting(separator: Separator, chunk: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The chunk model's output, and how many parameters its forward passed to torch functions."""
    use = _ParameterUse()
    with torch.inference_mode(), use:
        out = separator.model(chunk).float()
    active = sum(p.numel() for p in separator.model.network.parameters() if id(p) in use.seen)
    return out, active


def check_stem_selection(
    spec: ArchitectureSpec,
    params: Mapping[str, Any] | BaseModel,
    stems: Sequence[str],
    *,
    saves: Literal["parameters", "compute"] | None = "parameters",
    seed: int = 0,
    batch_size: int = 2,
    tolerance: float = 1e-5,
) -> StemSelectionCounts:
    """Pruning to `stems` with `spec.stem_selection` keeps exactly those stems' outputs.

    Builds the full network with seeded random weights moved off their initial values
    ([`perturb_weights`][splifft_core.testing.perturb_weights]), then a separator for `stems`
    from the same weights, which the core prunes with the spec's stem selection as
    `splifft.load(..., stems=...)` does. One chunk runs through both: the kept stems must equal
    the full model's within `tolerance` (absolute), and differ from its other stems by more.

    Args:
        spec: An architecture with a `stem_selection`.
        params: Small params, as for `check_architecture`.
        stems: A proper subset of the model's stems.
        saves: What the pruning claims to save. `"parameters"`: the pruned network holds fewer
            parameters and runs fewer; `"compute"`: it runs fewer (idle heads may stay loaded);
            `None`: nothing, it only must not run more than the full one.
        seed: Seeds the weights, the perturbation and the chunk.
        batch_size: Chunks in the batch.
        tolerance: The largest absolute difference allowed.
    """
    assert spec.stem_selection is not None, f"{spec.name}: no stem_selection to check"
    parsed = params if isinstance(params, BaseModel) else spec.parse_params(params)
    assert isinstance(parsed, ModelParamsLike), f"{spec.name}: params are not ModelParamsLike"
    names = tuple(parsed.output_stem_names)
    wanted = tuple(stems)
    assert wanted and len(set(wanted)) == len(wanted) and set(wanted) < set(names), (
        f"{spec.name}: stems must be a proper subset of {names}, got {wanted}"
    )
    torch.manual_seed(seed)
    full = Separator.from_spec(spec, parsed, None, device="cpu")
    perturb_weights(full.model.network, seed)
    state = {k: v.detach().clone() for k, v in full.model.network.state_dict().items()}
    pruned = Separator.from_spec(spec, parsed, state, device="cpu", stems=wanted)
    kept = pruned.model_stems
    assert sorted(kept) == sorted(wanted), f"{spec.name}: asked for {wanted}, pruned to {kept}"

    generator = torch.Generator().manual_seed(seed + 1)
    chunk = 0.5 * torch.randn(batch_size, full.channels, full.chunk_size, generator=generator)
    full_out, full_active = _run_counting(full, chunk)
    pruned_out, pruned_active = _run_counting(pruned, chunk)
    expected_shape = (full_out.shape[0], len(kept), *full_out.shape[2:])
    assert tuple(pruned_out.shape) == expected_shape, (
        f"{spec.name}: pruned output {tuple(pruned_out.shape)}, full {tuple(full_out.shape)}"
    )
    for position, stem in enumerate(kept):
        reference = full_out[:, names.index(stem)]
        error = (pruned_out[:, position] - reference).abs().max().item()
        assert error <= tolerance, (
            f"{spec.name}: pruned stem {stem!r} differs from the full model's by {error:.3g}"
        )
        for other, name in enumerate(names):
            gap = (full_out[:, other] - reference).abs().max().item()
            assert name == stem or gap > tolerance, (
                f"{spec.name}: stems {stem!r} and {name!r} give the same output: the check "
                "cannot tell them apart (more random weights needed?)"
            )

    counts = StemSelectionCounts(
        full_parameters=sum(p.numel() for p in full.model.network.parameters()),
        pruned_parameters=sum(p.numel() for p in pruned.model.network.parameters()),
        full_active=full_active,
        pruned_active=pruned_active,
    )
    assert counts.pruned_active <= counts.full_active, f"{spec.name}: pruning runs more: {counts}"
    if saves == "parameters":
        assert counts.pruned_parameters < counts.full_parameters, (
            f"{spec.name}: the pruned network is not smaller: {counts}"
        )
    if saves is not None:
        assert counts.pruned_active < counts.full_active, (
            f"{spec.name}: the pruned network runs every parameter still: {counts}"
        )
    return counts


# -- against references -------------------------------------------------------------------------


def check_golden_chunk(
    spec: ArchitectureSpec,
    params: Mapping[str, Any] | BaseModel,
    checkpoint: Checkpoint,
    inputs: torch.Tensor,
    expected: torch.Tensor,
    *,
    stems: Sequence[str] | None = None,
    tolerance: float = 1e-4,
) -> Separator:
    """The chunk model, loaded from `checkpoint` through the core, maps `inputs` to `expected`.

    `expected` is the reference's `(batch, stems, channels, samples)` for every model stem; with
    `stems`, the separator is pruned to those and compared with their rows. Returns the separator.
    """
    separator = Separator.from_spec(spec, params, checkpoint, stems=stems, device="cpu")
    with torch.no_grad():
        ours = separator.model(inputs)
    if stems is not None:
        names = list(separator.params.output_stem_names)  # type: ignore[attr-defined]
        assert expected.shape[1] == len(names), f"{spec.name}: expected holds no row per stem"
        expected = expected[:, [names.index(s) for s in separator.model_stems]]
    assert ours.shape == expected.shape, (
        f"{spec.name}: {tuple(ours.shape)} != {tuple(expected.shape)}"
    )
    error = (ours - expected).abs().max().item()
    assert error <= tolerance, f"{spec.name}: output differs from the golden one by {error:.3g}"
    return separator


def check_msst_golden(
    spec: ArchitectureSpec,
    fixture: Mapping[str, Any],
    *,
    plugin: object | None = None,
    tolerance: float = 1e-4,
) -> Manifest:
    """A golden chunk of an MSST reference model, computed again through the core, three ways.

    `fixture` holds `msst_config`, the reference's `state_dict` (random weights), an `input`
    chunk and the reference's `output` (`(batch, stems, channels, samples)`). The config is
    imported with `spec.msst_import`, the state dict saved as an MSST-style `.ckpt` file and
    loaded from it (`weights_only=True`, strictly) as a user's checkpoint is. Then
    [`check_golden_chunk`][splifft_core.testing.check_golden_chunk] with every stem and with the
    last stem alone (pruned by the spec's stem selection, if it has one), and
    [`check_msst_import`][splifft_core.testing.check_msst_import] from the yaml (with `plugin`).
    Returns the imported manifest.
    """
    assert spec.msst_import is not None, f"{spec.name}: no msst_import"
    msst_config = fixture["msst_config"]
    params = spec.parse_params(resolve(spec.msst_import)(msst_config)["params"])
    assert isinstance(params, ModelParamsLike), f"{spec.name}: params are not ModelParamsLike"
    inputs, expected = fixture["input"], fixture["output"]
    last = tuple(params.output_stem_names)[-1:]
    with tempfile.TemporaryDirectory(prefix="splifft-golden-") as tmp:
        checkpoint = Path(tmp) / "model.ckpt"
        torch.save(fixture["state_dict"], checkpoint)
        check_golden_chunk(spec, params, checkpoint, inputs, expected, tolerance=tolerance)
        pruned = check_golden_chunk(
            spec, params, checkpoint, inputs, expected, stems=last, tolerance=tolerance
        )
        assert pruned.model_stems == last, f"{spec.name}: pruned to {pruned.model_stems}"
        return check_msst_import(
            spec,
            msst_config,
            checkpoint,
            inputs=inputs,
            expected=expected,
            plugin=plugin,
            tolerance=tolerance,
        )


def check_msst_demix(
    spec: ArchitectureSpec,
    golden: Mapping[str, Any],
    checkpoint: Checkpoint,
    *,
    batch_size: int = 1,
    tolerance: float = 1e-4,
) -> None:
    """Whole tracks through the separator with the `msst` chunk layout equal MSST's own `demix`.

    `golden` holds `msst_config`, `tracks` and MSST's `outputs` (`(stems, channels, samples)`
    each), as [`write_msst_demix_golden`][splifft_core.testing.write_msst_demix_golden] writes
    them. The config is imported with `spec.msst_import`; MSST's hop is
    `chunk_size // num_overlap`, with linear fades.
    """
    assert spec.msst_import is not None, f"{spec.name}: no msst_import"
    msst_config = golden["msst_config"]
    params = spec.parse_params(resolve(spec.msst_import)(msst_config)["params"])
    assert isinstance(params, ModelParamsLike), f"{spec.name}: params are not ModelParamsLike"
    inference = InferenceConfig(
        chunk_layout="msst",
        hop_size_override=params.chunk_size // msst_config["inference"]["num_overlap"],
        window_shape="linear_fade",
        batch_size=batch_size,
    )
    separator = Separator.from_spec(spec, params, checkpoint, inference=inference)
    for track, expected in zip(golden["tracks"], golden["outputs"], strict=True):
        stems = separator.separate(track, sample_rate=params.sample_rate)
        ours = torch.stack([stems[name] for name in params.output_stem_names])
        assert ours.shape == expected.shape, (
            f"{spec.name}: {tuple(ours.shape)} != {tuple(expected.shape)}"
        )
        error = (ours - expected).abs().max().item()
        assert error <= tolerance, f"{spec.name}: demix differs from MSST's by {error:.3g}"


def write_msst_demix_golden(
    msst_root: Path,
    weights: Path,
    target: Path,
    *,
    model_type: str,
    network: Callable[[dict[str, Any], Any], torch.nn.Module],
    seed: int = 7,
) -> None:
    """Save whole-track outputs of MSST's own `demix` to `target`, for `check_msst_demix`.

    For fixture scripts, not tests: needs a Music-Source-Separation-Training checkout at
    `msst_root` (its `utils/model_utils.py`) and `ml_collections`. `weights` holds
    `{"msst_config", "state_dict"}`; `network(msst_config, config_dict)` builds MSST's own model
    (from the checkout's `models`), which loads the state dict strictly. Two stereo tracks: one
    long enough for MSST's reflect edge padding, one too short for it; `inference.batch_size` is
    1 (MSST applies its edge fades per batch, not per chunk).
    """
    sys.path.insert(0, str(Path(msst_root).resolve()))
    config_dict = importlib.import_module("ml_collections").ConfigDict
    demix = importlib.import_module("utils.model_utils").demix
    saved = torch.load(weights, weights_only=True)
    msst_config = copy.deepcopy(saved["msst_config"])
    msst_config["inference"]["batch_size"] = 1
    config = config_dict(msst_config)
    model = network(msst_config, config).eval()
    model.load_state_dict(saved["state_dict"], strict=True)

    generator = torch.Generator().manual_seed(seed)
    chunk = msst_config["audio"]["chunk_size"]
    tracks, outputs = [], []
    for length in (3 * chunk + 517, chunk - 200):
        track = 0.5 * torch.randn(2, length, generator=generator)
        separated = demix(config, model, track.numpy(), torch.device("cpu"), model_type)
        tracks.append(track)
        outputs.append(torch.stack([torch.from_numpy(separated[s]) for s in separated]))
    torch.save({"msst_config": msst_config, "tracks": tracks, "outputs": outputs}, target)
    print(f"{target.name}: {target.stat().st_size} bytes")


@contextlib.contextmanager
def _splifft_home(home: Path) -> Iterator[None]:
    previous = os.environ.get("SPLIFFT_HOME")
    os.environ["SPLIFFT_HOME"] = str(home)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("SPLIFFT_HOME", None)
        else:
            os.environ["SPLIFFT_HOME"] = previous


class _SpecPlugin:
    """A stand-in plugin that provides one architecture."""

    def __init__(self, spec: ArchitectureSpec) -> None:
        self.spec = spec

    @hookimpl
    def splifft_architectures(self) -> list[ArchitectureSpec]:
        return [self.spec]


def check_msst_import(
    spec: ArchitectureSpec,
    config: Path | Mapping[str, Any],
    checkpoint: Path | Mapping[str, torch.Tensor],
    *,
    inputs: torch.Tensor | None = None,
    expected: torch.Tensor | None = None,
    model_type: str | None = None,
    plugin: object | None = None,
    tolerance: float = 1e-4,
) -> Manifest:
    """`import-msst` round trip: an MSST yaml and checkpoint → a manifest → a working separator.

    Imports with `splifft_core.msst.import_msst` (as `--model-type`, the spec's first
    `msst_model_types` unless `model_type` is given), checks the manifest against the spec, loads
    it by identifier with `splifft_core.api.load` and, given `inputs`, asserts the chunk model
    computes `expected` within `tolerance`. `config` and `checkpoint` may be in memory (they are
    written as `config.yaml` and a `torch.save`d `model.ckpt`). Runs with `SPLIFFT_HOME` in a
    temporary folder and a host holding only `plugin` (by default, a stand-in providing `spec`).
    Returns the imported manifest.
    """
    from splifft_core import api
    from splifft_core.msst import import_msst

    assert (inputs is None) == (expected is None), "pass both inputs and expected, or neither"
    with (
        tempfile.TemporaryDirectory(prefix="splifft-msst-") as tmp,
        _splifft_home(Path(tmp) / "home"),
    ):
        if not isinstance(config, Path):
            written = Path(tmp) / "config.yaml"
            written.write_text(yaml.safe_dump(dict(config)), encoding="utf-8")
            config = written
        if not isinstance(checkpoint, Path):
            saved = Path(tmp) / "model.ckpt"
            torch.save(dict(checkpoint), saved)
            checkpoint = saved
        host = PluginHost(strict=True)
        host.register(plugin if plugin is not None else _SpecPlugin(spec), spec.name)
        kind = model_type or next(iter(spec.msst_model_types), None)
        manifest = import_msst(config, checkpoint, model_type=kind, host=host).manifest
        assert manifest.architecture == spec.name, f"imported as {manifest.architecture!r}"
        _manifest_params(spec, manifest)
        separator = api.load(manifest.identifier, device="cpu", host=host)
        if inputs is not None and expected is not None:
            with torch.no_grad():
                ours = separator.model(inputs)
            assert ours.shape == expected.shape, (
                f"{spec.name}: {tuple(ours.shape)} != {tuple(expected.shape)}"
            )
            error = (ours - expected).abs().max().item()
            assert error <= tolerance, f"{spec.name}: imported model differs by {error:.3g}"
    return manifest
