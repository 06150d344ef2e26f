"""A ready separator: the chunk model, its inference settings, and the file/tensor front ends."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from pydantic import BaseModel, ValidationError
from torch import Tensor

from splifft_core.archetypes import SeparationModel, TtaChunkModel, make_archetype
from splifft_core.audio import (
    CLIP_MODES,
    AudioInfo,
    ClipMode,
    FileSource,
    Resampler,
    StemWriter,
    check_output_format,
    clock,
    default_notify,
    map_channels,
    resample,
)
from splifft_core.checkpoint import load_into, read_state_dict
from splifft_core.config import DEFAULT_FILENAME, InferenceConfig
from splifft_core.encoding import (
    STEM_SLOTS,
    Codec,
    encode_stems_mp4,
    output_format,
    output_rate,
    parse_bitrate,
    stem_tags,
)
from splifft_core.engine import (
    AudioSource,
    Normalization,
    ProgressCallback,
    ShiftedSource,
    TensorSource,
    average_streams,
    compute_normalization,
    derive_stems,
    shift_offsets,
    stitch_stream,
)
from splifft_core.errors import (
    AudioError,
    CheckpointError,
    ConfigError,
    ModelOutputError,
    OutputError,
    validation_message,
)
from splifft_core.hub import Notify
from splifft_core.manifest import DerivedStem
from splifft_core.models import ArchitectureSpec, ModelParamsLike

Checkpoint = Path | str | Sequence[Path] | Mapping[str, Tensor] | None


def resolve_device(device: str | torch.device | None) -> torch.device:
    """`auto`/`None` → CUDA if available, else MPS, else CPU.

    An explicit device must exist here: a one-line `ConfigError` names what is missing (a torch
    build without CUDA or MPS, no GPU visible, `cuda:N` beyond the GPUs there are).
    """
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"device {str(device)!r}: {' '.join(str(exc).split())}") from None
    name, build = str(device), f"torch {torch.__version__}"
    if resolved.type == "cuda":
        if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
            raise ConfigError(
                f"device {name!r}: this torch build has no CUDA ({build}); use --device cpu"
            )
        count = torch.cuda.device_count()
        if count == 0 or not torch.cuda.is_available():
            raise ConfigError(
                f"device {name!r}: no CUDA GPU is visible ({build}; check the driver and "
                "CUDA_VISIBLE_DEVICES); use --device cpu"
            )
        if resolved.index is not None and resolved.index >= count:
            which = "cuda:0" if count == 1 else f"cuda:0 … cuda:{count - 1}"
            raise ConfigError(
                f"device {name!r}: this machine has {count} CUDA GPU{'s' * (count > 1)} ({which})"
            )
    elif resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_built():
            raise ConfigError(
                f"device {name!r}: this torch build has no MPS ({build}); use --device cpu"
            )
        if not mps.is_available():
            raise ConfigError(
                f"device {name!r}: MPS is not available on this machine (it needs macOS 12.3+ "
                "and a Metal GPU); use --device cpu"
            )
    elif resolved.type != "cpu":
        backend = getattr(torch, resolved.type, None)
        available = getattr(backend, "is_available", None)
        if callable(available) and not available():
            raise ConfigError(
                f"device {name!r}: no {resolved.type} device is available ({build}); "
                "use --device cpu"
            )
    return resolved


def needed_model_stems(
    requested: Sequence[str], model_stems: Sequence[str], rules: Mapping[str, DerivedStem]
) -> list[str]:
    """The model stems needed to produce `requested` (directly or through derived stems)."""
    needed: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in model_stems:
            needed.add(name)
        elif name == "mixture":
            return
        elif name in rules and name not in trail:
            for part in [*rules[name].plus, *rules[name].minus]:
                visit(part, (*trail, name))
        else:
            available = ", ".join([*model_stems, *rules])
            raise ConfigError(f"unknown stem {name!r} (this model gives: {available})")

    for stem in requested:
        visit(stem, ())
    return [s for s in model_stems if s in needed]


class StreamingSeparator(Protocol):
    """What the tensor and file front ends need: a separator, or an ensemble of them."""

    identifier: str
    stems: tuple[str, ...]
    inference: InferenceConfig

    @property
    def sample_rate(self) -> int: ...

    @property
    def channels(self) -> int: ...

    @property
    def model_stems(self) -> tuple[str, ...]: ...

    def stream(
        self,
        source: AudioSource,
        *,
        stems: Sequence[str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Iterable[tuple[int, dict[str, Tensor]]]: ...


def separate_audio(
    sep: StreamingSeparator,
    audio: Tensor | np.ndarray | str | Path,
    sample_rate: int | None = None,
    *,
    stems: Sequence[str] | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Tensor]:
    """Separate a `(channels, samples)` tensor (or a file) into `{stem: (channels, samples)}`.

    Output has the input's sample rate and length; mono input gives mono stems.
    """
    if isinstance(audio, str | Path):
        from splifft_core.audio import read_audio

        array, sample_rate = read_audio(Path(audio))
        audio = array
    if sample_rate is None:
        sample_rate = sep.sample_rate
    array = audio.detach().cpu().float().numpy() if isinstance(audio, Tensor) else audio
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] == 0:
        raise AudioError(f"expected audio of shape (channels, samples), got {array.shape}")
    if not np.isfinite(array).all():
        raise AudioError("input audio contains NaN or infinite samples")
    in_channels, frames = array.shape
    mapped = map_channels(array.T, sep.channels, False, "input audio")
    mapped = resample(mapped, sample_rate, sep.sample_rate)
    source = TensorSource(torch.from_numpy(np.ascontiguousarray(mapped.T)))
    requested = tuple(stems) if stems else sep.stems
    out = {s: torch.empty(sep.channels, source.length) for s in requested}
    for offset, blocks in sep.stream(source, stems=requested, on_progress=on_progress):
        for name, block in blocks.items():
            out[name][:, offset : offset + block.shape[-1]] = block
    result: dict[str, Tensor] = {}
    for name, value in out.items():
        back = resample(value.numpy().T, sep.sample_rate, sample_rate)
        back = _fit_length(back, frames)
        if in_channels == 1 and back.shape[1] > 1:
            back = back.mean(axis=1, keepdims=True)
        result[name] = torch.from_numpy(np.ascontiguousarray(back.T))
    return result


def separate_to_files(
    sep: StreamingSeparator,
    path: str | Path,
    output_dir: str | Path,
    *,
    filename: str = DEFAULT_FILENAME,
    file_format: str = "flac",
    bit_depth: int | None = None,
    bitrate: int | str | None = None,
    stem_codec: Codec = "aac",
    stems: Sequence[str] | None = None,
    downmix: bool = False,
    protected: Iterable[Path] = (),
    on_progress: ProgressCallback | None = None,
    clip_mode: ClipMode = "rescale",
    notify: Notify | None = None,
    stream: int = 0,
    on_stem_block: Callable[[str, Tensor], None] | None = None,
) -> list[Path]:
    """Separate an audio file into stem files, streamed, written atomically.

    Stems are written at the input's rate (or the nearest the format stores, e.g. 48 kHz
    for Opus, said through `notify`) to temporary files and renamed into place only when
    every one is complete, flushed, closed and proven to decode to its last frame. Paths in
    `protected` (e.g. the inputs) are never overwritten. `file_format` is one of
    `splifft_core.encoding.FORMATS`; `bit_depth` (lossless formats, default 24) and
    `bitrate` (lossy ones, e.g. `"192k"`, default the format's) set the encoding, and the
    input's tags (title, artist, album, …) go onto every stem, its title naming the stem.
    `stem.mp4` writes one NI Stems file per track (`stem_codec` `aac` or `alac`; see
    `splifft_core.encoding.stem_slots`). `clip_mode` says what happens to samples beyond
    full scale (`splifft_core.audio.ClipMode`); `notify` receives one-line warnings (stems
    rescaled or clipped, an input shorter than its header says; default: the `splifft`
    logger). `stream` picks the audio stream of a media file (0: the first).
    `on_stem_block(stem, block)` sees every requested stem's `(channels, n)` blocks at the
    model's rate, in order (e.g. to analyse a stem without reading it back).
    """
    plan = plan_track(
        sep,
        path,
        output_dir,
        filename=filename,
        file_format=file_format,
        bit_depth=bit_depth,
        bitrate=bitrate,
        stem_codec=stem_codec,
        stems=stems,
        protected=protected,
        clip_mode=clip_mode,
    )
    say = default_notify(notify)
    with plan.open_source(sep, downmix=downmix, notify=say, stream=stream) as source:
        blocks = sep.stream(source, stems=plan.requested, on_progress=on_progress)
        return write_track(sep, plan, source, blocks, notify=say, on_stem_block=on_stem_block)


@dataclass(frozen=True)
class TrackPlan:
    """What `separate_to_files` decides about one input before reading it: the format, the
    stems and where each goes (every path checked)."""

    path: Path
    file_format: str
    subtype: str
    bitrate: int | None
    bit_depth: int | None
    stem_codec: Codec
    clip_mode: ClipMode
    requested: tuple[str, ...]
    """The stems the separator is asked for (for stem.mp4: those its slots need)."""
    destinations: dict[str, Path]
    """Output name (a stem, or the one stem.mp4) → its path."""
    slots: dict[str, tuple[str, ...]] | None = None
    """stem.mp4 only: NI Stems slot → the stems summed into it."""

    def open_source(
        self,
        sep: StreamingSeparator,
        *,
        downmix: bool = False,
        notify: Notify | None = None,
        stream: int = 0,
    ) -> FileSource:
        """The input as the separator reads it (checked, at its rate and channels)."""
        return FileSource(
            self.path, sep.sample_rate, sep.channels, downmix=downmix, notify=notify, stream=stream
        )


def plan_track(
    sep: StreamingSeparator,
    path: str | Path,
    output_dir: str | Path,
    *,
    filename: str = DEFAULT_FILENAME,
    file_format: str = "flac",
    bit_depth: int | None = None,
    bitrate: int | str | None = None,
    stem_codec: Codec = "aac",
    stems: Sequence[str] | None = None,
    protected: Iterable[Path] = (),
    clip_mode: ClipMode = "rescale",
) -> TrackPlan:
    """Check the output settings and paths of one input (`separate_to_files`' first step)."""
    path = Path(path)
    bits = parse_bitrate(bitrate)
    subtype = check_output_format(file_format, bit_depth, bits, stem_codec)
    fmt = output_format(file_format)
    if clip_mode not in CLIP_MODES:
        raise ConfigError(f"clip mode {clip_mode!r} is not one of {', '.join(CLIP_MODES)}")
    slots: dict[str, tuple[str, ...]] | None = None
    if fmt.name == STEMS_FORMAT:
        if stems:
            raise ConfigError(
                "--stems does not apply to stem.mp4 (it holds drums, bass, other and vocals)"
            )
        slots = stem_slots(sep.identifier, sep.model_stems, sep.stems)
        requested = tuple(dict.fromkeys(s for parts in slots.values() for s in parts))
    else:
        requested = tuple(stems) if stems else sep.stems
    needed_model_stems(requested, sep.model_stems, sep.inference.derived_stems)
    template, names, ext = output_naming(fmt.name, filename, requested)
    destinations = {
        s: output_path(Path(output_dir), template, path, s, ext, sep.identifier) for s in names
    }
    guarded = {p.resolve() for p in [path, *protected]}
    for dest in destinations.values():
        if dest.resolve() in guarded:
            raise OutputError(f"{dest}: refusing to overwrite an input file")
    return TrackPlan(
        path, fmt.name, subtype, bits, bit_depth, stem_codec, clip_mode, requested, destinations,
        slots,
    )  # fmt: skip


class TrackSource(Protocol):
    """What `write_track` reads of its input: `FileSource`, or the same audio held in memory."""

    info: AudioInfo
    tags: dict[str, str]

    def read(self, start: int, stop: int) -> Tensor: ...


@dataclass(frozen=True)
class HeldSource(TensorSource):
    """A track decoded whole, with what `write_track` reads of its file (`hold`)."""

    info: AudioInfo
    tags: dict[str, str]


def hold(source: FileSource) -> HeldSource:
    """Read an opened input whole into memory (the same samples its blocks would give)."""
    return HeldSource(source.read(0, source.length), source.info, dict(source.tags))


def write_track(
    sep: StreamingSeparator,
    plan: TrackPlan,
    source: TrackSource,
    blocks: Iterable[tuple[int, dict[str, Tensor]]],
    *,
    notify: Notify | None = None,
    on_stem_block: Callable[[str, Tensor], None] | None = None,
) -> list[Path]:
    """Write the separated `blocks` of `source` as `plan` says (`separate_to_files`' second
    step): to temporary files, renamed into place once every stem is complete and verified."""
    fmt = output_format(plan.file_format)
    say = default_notify(notify)
    path = plan.path
    info = source.info
    out_channels = 1 if info.channels == 1 else sep.channels
    out_rate = output_rate(fmt, info.sample_rate)
    frames = info.frames
    if out_rate != info.sample_rate:
        say(
            f"{path}: {fmt.name} stores {out_rate} Hz, not {info.sample_rate} Hz: "
            f"stems resampled to {out_rate} Hz"
        )
        frames = round(info.frames * out_rate / info.sample_rate)

    def writer(stem: str, dest: Path, staged: bool) -> StemWriter:
        resampler = (
            Resampler(sep.sample_rate, out_rate, out_channels)
            if out_rate != sep.sample_rate
            else None
        )
        return StemWriter(
            dest,
            out_rate,
            out_channels,
            "w64" if staged else fmt.name,
            "FLOAT" if staged else plan.subtype,
            resampler,
            target_frames=frames,
            clip_mode=plan.clip_mode,
            bitrate=plan.bitrate,
            bit_depth=plan.bit_depth or 24,
            tags=stem_tags(source.tags, track_name(path), stem),
        )

    writers: dict[str, StemWriter] = {}
    try:
        try:
            if plan.slots is not None:
                (dest,) = plan.destinations.values()
                for slot in ("mixture", *plan.slots):
                    writers[slot] = writer(slot, dest, staged=True)
            else:
                for stem, dest in plan.destinations.items():
                    writers[stem] = writer(stem, dest, staged=False)
            for offset, by_stem in blocks:
                if plan.slots is not None:
                    n = next(iter(by_stem.values())).shape[-1]
                    by_stem = fill_slots(plan.slots, by_stem, source.read(offset, offset + n))
                for stem, block in by_stem.items():
                    if on_stem_block is not None:
                        on_stem_block(stem, block)
                    array = block.numpy().T
                    if out_channels == 1 and array.shape[1] > 1:
                        array = array.mean(axis=1, keepdims=True)
                    writers[stem].write(np.ascontiguousarray(array, dtype=np.float32))
            for w in writers.values():
                if w.resampler is not None:
                    w.write(np.zeros((0, out_channels), np.float32), last=True)
        except BaseException:
            for w in writers.values():
                w.abort()
            raise
        scale = _full_scale(str(path), list(writers.values()), plan.clip_mode, say)
        for w in writers.values():
            w.finish(scale)  # every encoder flushed, closed and verified ...
        if plan.slots is not None:
            (dest,) = plan.destinations.values()
            return [
                write_stems_file(
                    dest,
                    [w.temp for w in writers.values()],
                    frames,
                    codec=plan.stem_codec,
                    bitrate=plan.bitrate,
                    bit_depth=plan.bit_depth or 24,
                    tags=stem_tags(source.tags, track_name(path), None),
                )
            ]
        return [w.commit() for w in writers.values()]  # ... before any rename
    finally:
        for w in writers.values():
            w.abort()  # the stems not yet renamed into place, the stem.mp4 staging files


@dataclass
class Separator:
    """Separates audio with one model. Build one with `splifft.load` or `from_spec`."""

    model: SeparationModel
    """The chunk model: `(batch, channels, chunk_size)` → `(batch, stems, channels, chunk_size)`."""
    params: BaseModel
    spec: ArchitectureSpec
    inference: InferenceConfig
    device: torch.device
    stems: tuple[str, ...]
    """The stems `separate` returns by default (model stems, then derived)."""
    identifier: str = "custom"
    info: dict[str, Any] = field(default_factory=dict)

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_spec(
        cls,
        spec: ArchitectureSpec,
        params: BaseModel | Mapping[str, Any],
        checkpoint: Checkpoint = None,
        *,
        inference: InferenceConfig | None = None,
        device: str | torch.device | None = "cpu",
        stems: Sequence[str] | None = None,
        identifier: str = "custom",
        tune_malloc: bool | None = None,
        fast_kernels: bool | None = None,
    ) -> Separator:
        """Build the network, load weights, and wrap it into the chunk model.

        `stems` restricts the output (model or derived stems); architectures with a stem
        selection plan then skip the heads that are not needed.

        Two CPU speed-ups, on by default (`None`: `SPLIFFT_MALLOC_TUNING`, `SPLIFFT_ONEDNN`):
        `tune_malloc` keeps glibc from returning freed chunk buffers to the OS
        (`splifft_core.allocator`; process-wide, once, cannot be undone), and `fast_kernels`
        runs the network's linear layers through oneDNN on x86 (`splifft_core.kernels`; this
        network only); `False` leaves it on `F.linear`.
        """
        params = validated_params(spec, params, identifier)
        if not isinstance(params, ModelParamsLike):
            raise ConfigError(f"architecture {spec.name!r}: params do not satisfy ModelParamsLike")
        inference = inference or InferenceConfig()
        model_stems = tuple(params.output_stem_names)
        rules = inference.derived_stems
        requested = tuple(stems) if stems else (*model_stems, *rules)
        needed = needed_model_stems(requested, model_stems, rules)
        if not needed and not all(s == "mixture" for s in requested):
            needed = list(model_stems)

        from splifft_core import allocator, kernels
        from splifft_core.settings import settings

        env = settings()
        if env.malloc_tuning if tune_malloc is None else tune_malloc:
            allocator.keep_freed_memory(True)  # chunks re-allocate the same buffers every time
        fast = env.onednn if fast_kernels is None else fast_kernels
        network = spec.build_model(params)
        _load_weights(spec, network, params, checkpoint, identifier)
        network.eval()
        if fast:
            kernels.use_fast_linear(network)  # oneDNN matmuls on x86 CPUs; F.linear elsewhere

        out_stems: tuple[str, ...] = model_stems
        indices: list[int] | None = None
        if set(needed) != set(model_stems):
            pruned = spec.select_stems(network, params, needed)
            if pruned is not None:
                network, out_stems = pruned
            else:
                indices = [model_stems.index(s) for s in needed]
                out_stems = tuple(needed)

        pre, post = make_archetype(spec.archetype, params)
        dev = resolve_device(device)
        model = SeparationModel(network, pre, post, out_stems, indices).to(dev)
        model.eval()
        if not fast:
            kernels.use_plain_linear(model)  # also the layers a plugin runs through kernels.linear
        return cls(
            model=model,
            params=params,
            spec=spec,
            inference=inference,
            device=dev,
            stems=requested,
            identifier=identifier,
        )

    # -- facts -------------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return int(self.params.sample_rate)  # type: ignore[attr-defined]

    @property
    def channels(self) -> int:
        return int(self.params.audio_channels)  # type: ignore[attr-defined]

    @property
    def chunk_size(self) -> int:
        return self.inference.chunk_size or int(self.params.chunk_size)  # type: ignore[attr-defined]

    @property
    def model_stems(self) -> tuple[str, ...]:
        return self.model.stems

    # -- separation --------------------------------------------------------------------------

    separate = separate_audio
    """Separate a `(channels, samples)` tensor (or a file) into `{stem: (channels, samples)}`
    ([separate_audio][splifft_core.separator.separate_audio])."""
    separate_file = separate_to_files
    """Separate an audio file into stem files, streamed, written atomically
    ([separate_to_files][splifft_core.separator.separate_to_files])."""

    def stream(
        self,
        source: AudioSource,
        *,
        stems: Sequence[str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Iterable[tuple[int, dict[str, Tensor]]]:
        """Separate a source at the model's rate; yields `(offset, {stem: (channels, n)})`."""
        requested = tuple(stems) if stems else self.stems
        # raises for stems this separator cannot give (unknown, or pruned at load time)
        needed_model_stems(requested, self.model_stems, self.inference.derived_stems)
        if source.channels != self.channels:
            raise AudioError(
                f"input has {source.channels} channels, the model takes {self.channels}"
            )
        norm: Normalization | None = (
            compute_normalization(source) if self.inference.normalize else None
        )
        offsets = shift_offsets(self.inference, self.sample_rate)
        max_shift = int(self.inference.max_shift * self.sample_rate)
        model: torch.nn.Module = TtaChunkModel(self.model) if self.inference.tta else self.model

        def run(
            src: AudioSource, progress: ProgressCallback | None
        ) -> Iterator[tuple[int, Tensor]]:
            return stitch_stream(
                model,
                src,
                self.inference,
                chunk_size=self.chunk_size,
                num_stems=len(self.model_stems),
                device=self.device,
                normalization=norm,
                on_progress=progress,
            )

        if offsets:
            # demucs: pad by max_shift, start `offset` samples in, drop the lead afterwards.
            leads = [max_shift - o for o in offsets]
            blocks = average_streams(
                [
                    run(ShiftedSource(source, lead), on_progress if i == 0 else None)
                    for i, lead in enumerate(leads)
                ],
                leads,
                source.length,
            )
        else:
            blocks = run(source, on_progress)
        with torch.inference_mode():
            for offset, block in blocks:
                if not bool(torch.isfinite(block).all()):  # one reduction per block
                    raise self._non_finite(block, offset)
                block = block.cpu()
                by_name = dict(zip(self.model_stems, block.unbind(0), strict=True))
                if self.inference.derived_stems:
                    mixture = source.read(offset, offset + block.shape[-1])
                    by_name = derive_stems(by_name, mixture, self.inference.derived_stems)
                yield offset, {s: by_name[s] for s in requested}

    def _non_finite(self, block: Tensor, offset: int) -> ModelOutputError:
        """The one-line error for a `(stems, channels, n)` block holding NaN or infinities."""
        bad = ~torch.isfinite(block)
        first = int(bad.any(dim=0).any(dim=0).nonzero()[0, 0])
        per_stem = bad.flatten(1).any(1).tolist()
        names = [n for n, b in zip(self.model_stems, per_stem, strict=True) if b]
        precision = self.inference.precision
        hint = (
            f"{precision} can overflow: try --precision float32"
            if precision != "float32"
            else "broken or mismatched weights?"
        )
        return ModelOutputError(
            f"model {self.identifier!r} produced NaN or infinite values at "
            f"{clock((offset + first) / self.sample_rate)} "
            f"(stem{'s' * (len(names) > 1)} {', '.join(names)}; {hint})"
        )


def _full_scale(name: str, writers: list[StemWriter], mode: ClipMode, notify: Notify) -> float:
    """The factor every stem of a track is scaled by (1: none), and a warning when stems are
    rescaled or clipped."""
    peak = max((w.peak for w in writers), default=0.0)
    if peak <= 1.0:
        return 1.0
    if mode == "rescale":
        scale = 1.0 / peak
        notify(
            f"{name}: stems peak at {peak:.2f}, rescaled by {scale:.3g} to avoid clipping "
            "(--clip-mode)"
        )
        return scale
    clipped = sum(w.clipped for w in writers)
    if clipped:
        share = 100 * clipped / max(1, sum(w.samples for w in writers))
        amount = f"{share:.1f} % of samples" if share >= 0.1 else f"{clipped} samples"
        notify(f"{name}: stems peak at {peak:.2f}; {amount} clipped (--clip-mode {mode})")
    return 1.0


STEMS_FORMAT = "stem.mp4"
STEMS_TEMPLATE = "{track}.{ext}"
"""Where a `stem.mp4` goes under the default filename template (one file per track)."""


def output_naming(
    file_format: str, template: str, stems: Sequence[str]
) -> tuple[str, list[str], str]:
    """`(template, names, ext)` of the files a separation writes: one per stem, or for
    `stem.mp4` one per track, named `{stem}` = `stems` (the default template becomes
    `STEMS_TEMPLATE`)."""
    fmt = output_format(file_format)
    if fmt.name == STEMS_FORMAT:
        return (
            (STEMS_TEMPLATE if template == DEFAULT_FILENAME else template),
            ["stems"],
            fmt.extension,
        )
    return template, list(stems), fmt.extension


def stem_slots(
    identifier: str, model_stems: Sequence[str], available: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """The stems summed into each NI Stems slot (drums, bass, other, vocals), or a one-line
    `ConfigError` for a model without drums, bass and vocals.

    Drums, bass and vocals are the model's stems of those names; `other` is the sum of every
    other model stem (Spleeter 5-stem: piano + other; a 6-stem model: guitar + piano + other),
    else the model's derived `other` stem, else `()`: the mixture minus the other three.
    """
    missing = [s for s in ("drums", "bass", "vocals") if s not in model_stems]
    if missing:
        raise ConfigError(
            f"stem.mp4 needs drums, bass and vocals; model {identifier!r} gives "
            f"{', '.join(available)} (no {', '.join(missing)})"
        )
    rest = tuple(s for s in model_stems if s not in ("drums", "bass", "vocals"))
    if not rest and "other" in available:
        rest = ("other",)
    slots = {"drums": ("drums",), "bass": ("bass",), "other": rest, "vocals": ("vocals",)}
    return {slot: slots[slot] for slot in STEM_SLOTS}


def fill_slots(
    slots: Mapping[str, tuple[str, ...]], blocks: Mapping[str, Tensor], mixture: Tensor
) -> dict[str, Tensor]:
    """`{mixture, drums, bass, other, vocals}` blocks from the model's stems (`stem_slots`)."""
    out = {"mixture": mixture}
    for slot, parts in slots.items():
        if parts:
            total = blocks[parts[0]].clone()
            for part in parts[1:]:
                total += blocks[part]
        else:
            total = mixture.clone()
            for other in ("drums", "bass", "vocals"):
                total -= out[other] if other in out else blocks[other]
        out[slot] = total
    return out


def write_stems_file(
    destination: Path,
    staged: Sequence[Path],
    frames: int,
    *,
    codec: Codec,
    bitrate: int | None,
    bit_depth: int,
    tags: Mapping[str, str],
) -> Path:
    """Encode five finished float32 stems into an NI Stems file, prove each of its streams
    decodes to `frames`, and rename it onto `destination`."""
    from splifft_core import atomic
    from splifft_core.audio import write_reason
    from splifft_core.media import probe_media

    try:
        temp = atomic.create_temp(destination)
    except OSError as exc:
        raise OutputError(
            f"{destination.parent}: cannot write output ({exc.strerror or exc})"
        ) from None
    try:
        try:
            encode_stems_mp4(
                staged, temp, codec=codec, bitrate=bitrate, bit_depth=bit_depth, tags=tags
            )
            lengths = [probe_media(temp, i).frames for i in range(len(staged))]
        except OutputError:
            raise
        except Exception as exc:
            reason = write_reason(exc, None, destination.parent)
            raise OutputError(f"{destination}: cannot write output ({reason})") from None
        if any(n != frames for n in lengths):
            raise OutputError(
                f"{destination}: cannot write output (the file is incomplete after closing)"
            )
        return atomic.commit(temp, destination)
    except BaseException:
        atomic.discard(temp)
        raise


def _fit_length(array: np.ndarray, frames: int) -> np.ndarray:
    if len(array) >= frames:
        return array[:frames]
    return np.concatenate([array, np.zeros((frames - len(array), array.shape[1]), array.dtype)])


TEMPLATE_FIELDS = ("track", "stem", "ext", "input_ext", "model")
"""The fields of a filename template (`DEFAULT_FILENAME`)."""


def track_name(path: Path) -> str:
    """The input's name without its extension (`{track}`); a `.stem.mp4` loses both suffixes."""
    name = path.name
    if name.lower().endswith(".stem.mp4"):
        return name[: -len(".stem.mp4")] or path.stem
    return path.stem


def output_path(
    output_dir: Path, template: str, track: Path, stem: str, ext: str, model: str
) -> Path:
    """Fill the filename template; the result must stay inside `output_dir`.

    Fields: `track` (the input's name without extension), `stem`, `ext` (the output format),
    `input_ext` (the input's extension without the dot) and `model`.
    """
    fields = {
        "track": track_name(track),
        "stem": stem,
        "ext": ext,
        "input_ext": track.suffix.lstrip("."),
        "model": model,
    }
    try:
        relative = template.format(**fields)
    except KeyError as exc:
        raise OutputError(
            f"filename template {template!r}: unknown field {exc} (use {', '.join(TEMPLATE_FIELDS)})"
        ) from None
    except (IndexError, ValueError) as exc:
        raise OutputError(
            f"filename template {template!r} is not a valid template ({exc}); fields go in "
            f"braces: {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
        ) from None
    candidate = Path(relative)
    if not relative.strip() or candidate.is_absolute() or ".." in candidate.parts:
        raise OutputError(f"filename template {template!r} must stay inside the output folder")
    return output_dir / candidate


def plan_outputs(
    tracks: Sequence[tuple[Path, Path]],
    template: str,
    stems: Sequence[str],
    ext: str,
    model: str,
    protected: Iterable[Path] = (),
) -> list[dict[str, Path]]:
    """Every track's stem paths (`tracks`: `(input file, its output folder)` pairs), checked
    together before any work, so that no output replaces another or an input.

    One-line `OutputError`s: a template that gives two stems of a track one path (it lacks
    `{stem}`), two inputs that would write one path (`song.wav` beside `song.flac`), and an
    output that is an input (`protected` and the tracks themselves).
    """
    plans: list[dict[str, Path]] = []
    owners: dict[Path, Path] = {}
    inputs = {p.resolve() for p in [*protected, *(track for track, _ in tracks)]}
    for track, folder in tracks:
        plan = {s: output_path(folder, template, track, s, ext, model) for s in stems}
        by_path: dict[Path, str] = {}
        for stem, dest in plan.items():
            key = dest.resolve()
            if key in by_path:
                raise OutputError(
                    f"filename template {template!r} writes stems {by_path[key]!r} and {stem!r} "
                    f"to one path ({dest}); put {{stem}} in it"
                )
            by_path[key] = stem
            if key in inputs:
                raise OutputError(f"{dest}: refusing to overwrite an input file")
            other = owners.get(key)
            if other is not None:
                if other.suffix.lower() != track.suffix.lower():
                    hint = (
                        "put {input_ext} in the filename template, e.g. --filename "
                        "'{track}-{input_ext}/{stem}.{ext}', or rename one"
                    )
                else:
                    hint = (
                        "rename one, pass their common folder instead (subfolders are kept "
                        "under the output folder), or separate them into different output folders"
                    )
                raise OutputError(f"{other} and {track} would both write {dest}; {hint}")
            owners[key] = track
        plans.append(plan)
    return plans


MIN_CHUNK_SIZE = 1024
"""The smallest chunk a run takes, in samples (23 ms at 44.1 kHz): below it, per-call overhead
dominates and an STFT has barely a frame to work with."""


def min_chunk_size(params: object) -> int:
    """`MIN_CHUNK_SIZE`, and at least twice the STFT size of params that expose one as `stft`
    (a [StftParams][splifft_core.models.StftParams]; a centred STFT reflect-pads `n_fft // 2`
    samples, which must be shorter than the chunk)."""
    from splifft_core.models import StftParams

    stft = getattr(params, "stft", None)
    n_fft = stft.n_fft if isinstance(stft, StftParams) else 0
    return max(MIN_CHUNK_SIZE, 2 * int(n_fft))


def device_memory(device: torch.device) -> int | None:
    """The memory of `device` in bytes (a CPU's: the machine's RAM); `None` when unknown."""
    import os

    try:
        if device.type == "cuda":
            return int(torch.cuda.mem_get_info(device)[1])
        if device.type == "mps":
            return int(torch.mps.recommended_max_memory())
        if device.type == "cpu":
            return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError, RuntimeError):
        return None
    return None


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def check_chunking(
    params: object,
    inference: InferenceConfig,
    *,
    channels: int,
    num_stems: int,
    device: torch.device,
    identifier: str = "custom",
) -> None:
    """Refuse chunk, hop and batch settings that cannot run, before any work (one line each).

    - the chunk must be at least `min_chunk_size(params)` (`MIN_CHUNK_SIZE`, 2 × the STFT size);
    - the hop at least `InferenceConfig.min_hop_size` (1 % of the chunk; an explicit `hop_size`
      could go lower than `MAX_OVERLAP_RATIO` allows);
    - the buffers one batch needs at the least (the chunks in, every stem out, the overlap-add
      accumulator) must fit in the device's memory.
    """
    chunk = inference.chunk_size or int(params.chunk_size)  # type: ignore[attr-defined]
    minimum = min_chunk_size(params)
    if chunk < minimum:
        why = f"{MIN_CHUNK_SIZE} at the least"
        if minimum > MIN_CHUNK_SIZE:
            why = f"2 × its STFT size n_fft = {minimum // 2}"
        raise ConfigError(
            f"{identifier}: chunk size {chunk} is too small: at least {minimum} samples ({why})"
        )
    hop, min_hop = inference.hop_size(chunk), inference.min_hop_size(chunk)
    if hop < min_hop:
        raise ConfigError(
            f"{identifier}: hop size {hop} is under 1 % of the chunk size {chunk}: at least "
            f"{min_hop} (at most 100 chunks overlap each sample)"
        )
    batch = inference.batch_size
    itemsize = 4 if inference.precision == "float32" else 2
    stems = max(1, num_stems)
    capacity = (batch - 1) * hop + chunk
    need = channels * (itemsize * batch * chunk * (1 + stems) + 4 * stems * capacity)
    have = device_memory(device)
    if have is not None and need > have:
        raise ConfigError(
            f"{identifier}: chunk size {chunk} × batch size {batch} needs at least {_size(need)} "
            f"on {device}, which has {_size(have)}; use a smaller --batch-size or --chunk-size"
        )


def validated_params(
    spec: ArchitectureSpec, params: BaseModel | Mapping[str, Any], identifier: str
) -> BaseModel:
    """`params` as the architecture's params model, or a one-line `ConfigError`."""
    if isinstance(params, BaseModel):
        return params
    try:
        return spec.parse_params(params)
    except ValidationError as exc:
        raise ConfigError(
            f"{identifier}: invalid params for architecture {spec.name!r}: "
            f"{validation_message(exc)}"
        ) from None


def _load_weights(
    spec: ArchitectureSpec,
    network: torch.nn.Module,
    params: BaseModel,
    checkpoint: Checkpoint,
    identifier: str,
) -> None:
    if checkpoint is None:
        return
    if spec.checkpoint_loader is not None and not isinstance(checkpoint, Mapping):
        from splifft_core.models import resolve

        files = [Path(checkpoint)] if isinstance(checkpoint, str | Path) else checkpoint
        loader: Callable[[torch.nn.Module, BaseModel, list[Path]], None]
        loader = resolve(spec.checkpoint_loader)
        loader(network, params, [Path(p) for p in files])
        return
    if isinstance(checkpoint, Mapping):
        state, origin = dict(checkpoint), f"{identifier} state dict"
    else:
        paths = [Path(checkpoint)] if isinstance(checkpoint, str | Path) else list(checkpoint)
        if len(paths) != 1:
            raise CheckpointError(
                f"{identifier}: architecture {spec.name!r} takes one checkpoint, got {len(paths)}"
            )
        state, origin = read_state_dict(paths[0]), str(paths[0])
    state = spec.transform_checkpoint(state, params)
    load_into(network, state, origin)
