"""A ready separator: the chunk model, its inference settings, and the file/tensor front ends."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ValidationError
from torch import Tensor

from splifft_core.archetypes import SeparationModel, make_archetype
from splifft_core.audio import (
    FileSource,
    Resampler,
    StemWriter,
    check_output_format,
    map_channels,
    resample,
)
from splifft_core.checkpoint import load_into, read_state_dict
from splifft_core.config import DEFAULT_FILENAME, InferenceConfig
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
from splifft_core.errors import AudioError, CheckpointError, ConfigError, OutputError
from splifft_core.manifest import DerivedStem
from splifft_core.models import ArchitectureSpec, ModelParamsLike

Checkpoint = Path | str | Sequence[Path] | Mapping[str, Tensor] | None


def resolve_device(device: str | torch.device | None) -> torch.device:
    """`auto`/`None` → CUDA if available, else MPS, else CPU."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"device {device!r}: {exc}") from None


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
    ) -> Separator:
        """Build the network, load weights, and wrap it into the chunk model.

        `stems` restricts the output (model or derived stems); architectures with a stem
        selection plan then skip the heads that are not needed.
        """
        if not isinstance(params, BaseModel):
            try:
                params = spec.parse_params(params)
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(p) for p in first["loc"])
                raise ConfigError(
                    f"{identifier}: invalid params for architecture {spec.name!r}: {loc}: "
                    f"{first['msg']}"
                ) from None
        if not isinstance(params, ModelParamsLike):
            raise ConfigError(f"architecture {spec.name!r}: params do not satisfy ModelParamsLike")
        inference = inference or InferenceConfig()
        model_stems = tuple(params.output_stem_names)
        rules = inference.derived_stems
        requested = tuple(stems) if stems else (*model_stems, *rules)
        needed = needed_model_stems(requested, model_stems, rules)
        if not needed and not all(s == "mixture" for s in requested):
            needed = list(model_stems)

        from splifft_core.allocator import keep_freed_memory

        keep_freed_memory()  # chunked inference re-allocates the same buffers every chunk
        network = spec.build_model(params)
        _load_weights(spec, network, params, checkpoint, identifier)
        network.eval()
        from splifft_core.kernels import use_fast_linear

        use_fast_linear(network)  # oneDNN matmuls on x86 CPUs; F.linear everywhere else

        out_stems: tuple[str, ...] = model_stems
        indices: list[int] | None = None
        if set(needed) != set(model_stems):
            pruned = spec.select_stems(network, params, needed)
            if pruned is not None:
                network, out_stems = pruned
            else:
                indices = [model_stems.index(s) for s in needed]
                out_stems = tuple(needed)

        pre, post = spec.make_preprocess(params), spec.make_postprocess(params)
        if spec.archetype is not None:
            archetype_pre, archetype_post = make_archetype(spec.archetype, params)
            pre, post = pre or archetype_pre, post or archetype_post
        assert pre is not None and post is not None  # ArchitectureSpec checks this
        dev = resolve_device(device)
        model = SeparationModel(network, pre, post, out_stems, indices).to(dev)
        model.eval()
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

        def run(
            src: AudioSource, progress: ProgressCallback | None
        ) -> Iterator[tuple[int, Tensor]]:
            return stitch_stream(
                self.model,
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
                block = block.cpu()
                by_name = dict(zip(self.model_stems, block.unbind(0), strict=True))
                if self.inference.derived_stems:
                    mixture = source.read(offset, offset + block.shape[-1])
                    by_name = derive_stems(by_name, mixture, self.inference.derived_stems)
                yield offset, {s: by_name[s] for s in requested}

    def separate(
        self,
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
            sample_rate = self.sample_rate
        array = audio.detach().cpu().float().numpy() if isinstance(audio, Tensor) else audio
        array = np.asarray(array, dtype=np.float32)
        if array.ndim == 1:
            array = array[None]
        if array.ndim != 2 or array.shape[1] == 0:
            raise AudioError(f"expected audio of shape (channels, samples), got {array.shape}")
        if not np.isfinite(array).all():
            raise AudioError("input audio contains NaN or infinite samples")
        in_channels, frames = array.shape
        mapped = map_channels(array.T, self.channels, False, "input audio")
        mapped = resample(mapped, sample_rate, self.sample_rate)
        source = TensorSource(torch.from_numpy(np.ascontiguousarray(mapped.T)))
        requested = tuple(stems) if stems else self.stems
        out = {s: torch.empty(self.channels, source.length) for s in requested}
        for offset, blocks in self.stream(source, stems=requested, on_progress=on_progress):
            for name, block in blocks.items():
                out[name][:, offset : offset + block.shape[-1]] = block
        result: dict[str, Tensor] = {}
        for name, value in out.items():
            back = resample(value.numpy().T, self.sample_rate, sample_rate)
            back = _fit_length(back, frames)
            if in_channels == 1 and back.shape[1] > 1:
                back = back.mean(axis=1, keepdims=True)
            result[name] = torch.from_numpy(np.ascontiguousarray(back.T))
        return result

    def separate_file(
        self,
        path: str | Path,
        output_dir: str | Path,
        *,
        filename: str = DEFAULT_FILENAME,
        file_format: str = "flac",
        bit_depth: int = 24,
        stems: Sequence[str] | None = None,
        downmix: bool = False,
        protected: Iterable[Path] = (),
        on_progress: ProgressCallback | None = None,
    ) -> list[Path]:
        """Separate an audio file into stem files, streamed, written atomically.

        Stems are written at the input's rate to temporary files and renamed into place only
        when all are complete. Paths in `protected` (e.g. the inputs) are never overwritten.
        """
        path = Path(path)
        subtype = check_output_format(file_format, bit_depth)
        requested = tuple(stems) if stems else self.stems
        needed_model_stems(requested, self.model_stems, self.inference.derived_stems)
        destinations = {
            s: output_path(Path(output_dir), filename, path, s, file_format, self.identifier)
            for s in requested
        }
        guarded = {p.resolve() for p in [path, *protected]}
        for dest in destinations.values():
            if dest.resolve() in guarded:
                raise OutputError(f"{dest}: refusing to overwrite an input file")
        with FileSource(path, self.sample_rate, self.channels, downmix=downmix) as source:
            info = source.info
            out_channels = 1 if info.channels == 1 else self.channels
            writers: dict[str, StemWriter] = {}
            try:
                for stem, dest in destinations.items():
                    resampler = (
                        Resampler(self.sample_rate, info.sample_rate, out_channels)
                        if info.sample_rate != self.sample_rate
                        else None
                    )
                    writers[stem] = StemWriter(
                        dest,
                        info.sample_rate,
                        out_channels,
                        file_format,
                        subtype,
                        resampler,
                        target_frames=info.frames,
                    )
                for _, blocks in self.stream(source, stems=requested, on_progress=on_progress):
                    for stem, block in blocks.items():
                        array = block.numpy().T
                        if out_channels == 1 and array.shape[1] > 1:
                            array = array.mean(axis=1, keepdims=True)
                        writers[stem].write(np.ascontiguousarray(array, dtype=np.float32))
                for writer in writers.values():
                    if writer.resampler is not None:
                        writer.write(np.zeros((0, out_channels), np.float32), last=True)
            except BaseException:
                for writer in writers.values():
                    writer.abort()
                raise
        return [writer.commit() for writer in writers.values()]


def _fit_length(array: np.ndarray, frames: int) -> np.ndarray:
    if len(array) >= frames:
        return array[:frames]
    return np.concatenate([array, np.zeros((frames - len(array), array.shape[1]), array.dtype)])


def output_path(
    output_dir: Path, template: str, track: Path, stem: str, ext: str, model: str
) -> Path:
    """Fill the filename template; the result must stay inside `output_dir`."""
    try:
        relative = template.format(track=track.stem, stem=stem, ext=ext, model=model)
    except (KeyError, IndexError, ValueError) as exc:
        raise OutputError(
            f"filename template {template!r}: unknown field {exc} (use track, stem, ext, model)"
        ) from None
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise OutputError(f"filename template {template!r} must stay inside the output folder")
    return output_dir / candidate


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
