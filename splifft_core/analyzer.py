"""A ready analysis model (pitch, notes, beats): the network, its params, the decoder.

The front end of `splifft_core.analysis`: `analyze` takes a tensor, an array or a file and
returns the typed result (`PitchTrack`, `Notes`, `Beats`); `analyze_file` streams a file through
the chunked loop (`engine.stitch_frames`) and writes the task's files atomically. Build one with
`splifft.load_analyzer` or `Analyzer.from_spec`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from pydantic import BaseModel

from splifft_core.analysis import (
    ANALYSIS_OUTPUTS,
    AnalysisResult,
    Beats,
    FrameModelParamsLike,
    Notes,
    PitchTrack,
    write_result,
)
from splifft_core.audio import FileSource, default_notify, map_channels, resample
from splifft_core.config import DEFAULT_FILENAME
from splifft_core.engine import ProgressCallback, TensorSource, stitch_frames
from splifft_core.errors import AudioError, ConfigError, ModelOutputError
from splifft_core.hub import Notify
from splifft_core.models import ArchitectureSpec, resolve
from splifft_core.separator import (
    Checkpoint,
    _load_weights,
    output_path,
    resolve_device,
    validated_params,
)
from splifft_core.types import Task

RESULT_TYPES: dict[Task, type] = {"pitch": PitchTrack, "notes": Notes, "beats": Beats}


@dataclass
class Analyzer:
    """Analyses audio with one model: frame activations through the chunked loop, then the
    plugin's decoder."""

    network: torch.nn.Module
    """`(batch, channels, chunk_size)` → `{name: (batch, frames, ...)}`."""
    params: BaseModel
    spec: ArchitectureSpec
    device: torch.device
    batch_size: int = 1
    precision: str = "float32"
    identifier: str = "custom"

    @classmethod
    def from_spec(
        cls,
        spec: ArchitectureSpec,
        params: BaseModel | Mapping[str, Any],
        checkpoint: Checkpoint = None,
        *,
        device: str | torch.device | None = "cpu",
        batch_size: int = 1,
        precision: str = "float32",
        identifier: str = "custom",
    ) -> Analyzer:
        """Build the network and load its weights (the plugin's loader, never pickled code)."""
        if spec.task == "separation":
            raise ConfigError(
                f"{identifier}: architecture {spec.name!r} separates stems; use splifft.load"
            )
        params = validated_params(spec, params, identifier)
        if not isinstance(params, FrameModelParamsLike):
            raise ConfigError(
                f"architecture {spec.name!r}: params do not satisfy FrameModelParamsLike"
            )
        if batch_size < 1:
            raise ConfigError(f"batch size {batch_size} must be at least 1")
        network = spec.build_model(params)
        _load_weights(spec, network, params, checkpoint, identifier)
        dev = resolve_device(device)
        network = network.to(dev).eval()
        return cls(network, params, spec, dev, batch_size, precision, identifier)

    # -- facts -------------------------------------------------------------------------------

    @property
    def task(self) -> Task:
        return self.spec.task

    @property
    def frame_params(self) -> FrameModelParamsLike:
        return cast(FrameModelParamsLike, self.params)

    @property
    def sample_rate(self) -> int:
        return int(self.frame_params.sample_rate)

    @property
    def channels(self) -> int:
        return int(self.frame_params.audio_channels)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The files `analyze_file` writes per track (without the activations)."""
        return ANALYSIS_OUTPUTS[self.task]

    # -- running -----------------------------------------------------------------------------

    def activations(
        self, source: Any, on_progress: ProgressCallback | None = None
    ) -> dict[str, np.ndarray]:
        """The stitched frame activations of a source at the model's rate and channels."""
        acts = stitch_frames(
            self.network,
            source,
            self.frame_params,
            batch_size=self.batch_size,
            device=self.device,
            precision=self.precision,
            on_progress=on_progress,
        )
        for name, value in acts.items():
            if not np.isfinite(value).all():
                raise ModelOutputError(
                    f"model {self.identifier!r} produced NaN or infinite {name} activations"
                )
        return acts

    def decode(self, activations: Mapping[str, np.ndarray]) -> AnalysisResult:
        """The plugin's postprocessing: activations → events."""
        assert self.spec.decoder is not None  # ArchitectureSpec checks it for analysis tasks
        decoder: Callable[[dict[str, np.ndarray], BaseModel], AnalysisResult]
        decoder = resolve(self.spec.decoder)
        result = decoder(dict(activations), self.params)
        expected = RESULT_TYPES[self.task]
        if not isinstance(result, expected):
            raise ModelOutputError(
                f"model {self.identifier!r}: its decoder returned {type(result).__name__}, "
                f"not {expected.__name__}"
            )
        return result

    def analyze(
        self,
        audio: torch.Tensor | np.ndarray | str | Path,
        sample_rate: int | None = None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> AnalysisResult:
        """Analyse `(channels, samples)` audio (or a file) at `sample_rate` (default: the
        model's); channels are averaged for a mono model, the rate resampled to the model's."""
        if isinstance(audio, str | Path):
            from splifft_core.audio import read_audio

            audio, sample_rate = read_audio(Path(audio))
        if sample_rate is None:
            sample_rate = self.sample_rate
        array = audio.detach().cpu().float().numpy() if isinstance(audio, torch.Tensor) else audio
        array = np.asarray(array, dtype=np.float32)
        if array.ndim == 1:
            array = array[None]
        if array.ndim != 2 or array.shape[1] == 0:
            raise AudioError(f"expected audio of shape (channels, samples), got {array.shape}")
        if not np.isfinite(array).all():
            raise AudioError("input audio contains NaN or infinite samples")
        mapped = map_channels(array.T, self.channels, True, "input audio")
        mapped = resample(mapped, sample_rate, self.sample_rate)
        source = TensorSource(torch.from_numpy(np.ascontiguousarray(mapped.T)))
        return self.decode(self.activations(source, on_progress))

    def analyze_file(
        self,
        path: str | Path,
        output_dir: str | Path,
        *,
        filename: str = DEFAULT_FILENAME,
        activations: bool = False,
        protected: Sequence[Path] = (),
        on_progress: ProgressCallback | None = None,
        notify: Notify | None = None,
        stream: int = 0,
    ) -> list[Path]:
        """Analyse a file, streamed, and write the task's files (`{track}/pitch.csv`, …: the
        filename template's `{stem}` is the file's name, `{ext}` its extension), each written
        atomically; with `activations`, also the frame activations as `.npz`."""
        path = Path(path)
        paths = self.output_paths(Path(output_dir), filename, path, activations)
        guarded = {p.resolve() for p in [path, *protected]}
        for dest in paths.values():
            if dest.resolve() in guarded:
                from splifft_core.errors import OutputError

                raise OutputError(f"{dest}: refusing to overwrite an input file")
        with FileSource(
            path,
            self.sample_rate,
            self.channels,
            downmix=True,
            notify=default_notify(notify),
            stream=stream,
        ) as source:
            result = self.decode(self.activations(source, on_progress))
        return write_result(result, lambda name: paths[name], activations=activations)

    def output_paths(
        self,
        output_dir: Path,
        template: str,
        track: Path,
        activations: bool = False,
        prefix: str = "",
    ) -> dict[str, Path]:
        """`{file name: path}` of what `analyze_file` writes for `track`: the template's
        `{stem}` is `prefix` + the file's name (`pitch`), `{ext}` its extension (`csv`)."""
        names = list(self.outputs)
        if activations:
            names.append(f"{self.task}.npz")
        out: dict[str, Path] = {}
        for name in names:
            stem, _, ext = name.partition(".")
            out[name] = output_path(
                output_dir, template, track, prefix + stem, ext, self.identifier
            )
        return out
