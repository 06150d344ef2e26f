"""What a plugin registers: the params protocol and the architecture spec.

Nothing here imports torch. Callables that need torch (the model factory, checkpoint key
transforms and loaders, stem selection, MSST import) are named by import path
(`"package.module:attribute"`) and imported only when a model is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from splifft_core.types import (
    Channels,
    ChunkSize,
    FftSize,
    ModelOutputStemName,
    ModelType,
    SampleRate,
    Task,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import torch

Archetype = Literal["waveform", "stft_mask"]
"""The core's ready-made pre/postprocessing pairs.

- `waveform`: the network maps `(b, c, t)` to `(b, s, c, t)` (or `(b, s*c, t)`).
- `stft_mask`: the network gets the mixture STFT `(b, c, f, frames, 2)` and returns a complex mask
  `(b, s, c, f, frames, 2)`; the core multiplies it with the mixture and takes the ISTFT
  (the settings are `params.stft`, a [StftParams][splifft_core.models.StftParams]).
"""


@runtime_checkable
class ModelParamsLike(Protocol):
    """What the engine needs to know about any model's hyperparameters."""

    @property
    def chunk_size(self) -> ChunkSize: ...

    @property
    def output_stem_names(self) -> tuple[ModelOutputStemName, ...]: ...

    @property
    def audio_channels(self) -> Channels: ...

    @property
    def sample_rate(self) -> SampleRate: ...


class ModelParams(BaseModel):
    """An optional base for params models: the strict config and the fields most share.

    `extra="forbid"` (an unknown manifest key is an error) and `frozen=True`, plus the
    [ModelParamsLike][splifft_core.models.ModelParamsLike] members that are plain fields in most
    architectures. `audio_channels` is left to the subclass (a field, or a property such as a
    `stereo` flag's).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    chunk_size: ChunkSize
    """Samples per model call (MSST's `audio.chunk_size`)."""
    output_stem_names: tuple[ModelOutputStemName, ...] = Field(min_length=1)
    """The stems the network outputs, in output order."""
    sample_rate: SampleRate = 44100


class StftParams(BaseModel):
    """The settings of [splifft_core.stft][splifft_core.stft] (and of the `stft_mask` archetype,
    as `params.stft`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_fft: FftSize
    hop_length: int = Field(gt=0)
    win_length: int | None = Field(default=None, gt=0)
    """Window length, at most `n_fft` (the window is zero-padded to it); `None`: `n_fft`."""
    window: Literal["hann", "hamming", "rectangular"] = "hann"
    """`hann` and `hamming` are periodic (torch's default); `rectangular` is all ones."""
    normalized: bool = False
    """Scale the transform by `n_fft ** -0.5` (torch's `normalized=True`)."""
    center: bool = True
    """Reflect-pad `n_fft // 2` on both sides so that frame `m` is centred at `m * hop_length`."""


@dataclass(frozen=True)
class ArchitectureSpec:
    """One architecture, as a plugin registers it.

    `model_factory` builds the network from validated params; the network is wrapped with the
    archetype's pre/postprocessing into the chunk model of the model contract.
    """

    name: ModelType
    params_model: type[BaseModel]
    model_factory: str
    """`"module:callable"`, `(params) -> torch.nn.Module`."""
    archetype: Archetype = "waveform"
    checkpoint_transform: str | None = None
    """`"module:callable"`, `(state_dict, params) -> state_dict`: maps foreign key layouts."""
    stem_selection: str | None = None
    """`"module:callable"`, `(network, params, stems) -> (network, stems)`: prunes unneeded heads."""
    checkpoint_loader: str | None = None
    """`"module:callable"`, `(network, params, paths) -> None`: loads weights itself.

    For formats the core's loader (`torch.load(weights_only=True)` or safetensors, one file, then
    `checkpoint_transform` and a strict `load_state_dict`) cannot read, e.g. a bag of models.
    It must never execute pickled code.
    """
    msst_model_types: tuple[str, ...] = ()
    """Music-Source-Separation-Training `--model_type` names this architecture imports."""
    msst_import: str | None = None
    """`"module:callable"`, `(msst_config: dict) -> MsstImport`: maps an MSST yaml onto our params.

    Raises `splifft_core.errors.MsstConfigError` for keys it does not understand.
    """
    uvr_suffixes: tuple[str, ...] = ()
    """File suffixes (`.onnx`, `.pth`) of Ultimate Vocal Remover models this architecture imports
    with `splifft import-uvr`."""
    uvr_import: str | None = None
    """`"module:callable"`, `(model_file: Path, model_hash: str, model_data: Mapping | None) ->
    dict`: a UVR model file → `{"params", "inference", "derived_stems"?, "description"?}`.

    `model_hash` is UVR's (`splifft_core.uvr.uvr_model_hash`); `model_data` is the user's entry
    in UVR's model-data layout, `None` to look the hash up in the plugin's own tables. Raises
    `splifft_core.errors.UvrModelDataError` when neither gives the parameters.
    """
    description: str = ""
    task: Task = "separation"
    """What the network outputs (`splifft_core.analysis`): stems, or for `pitch`, `notes` and
    `beats` frame activations `{name: (batch, frames, ...)}` that `decoder` turns into events."""
    decoder: str | None = None
    """`"module:callable"`, `(activations: dict[str, np.ndarray], params) -> PitchTrack | Notes |
    Beats`: an analysis model's postprocessing (peak picking, note creation), as its reference
    does it. Required for every task but `separation`."""

    def __post_init__(self) -> None:
        if self.task != "separation" and self.decoder is None:
            raise ValueError(f"architecture {self.name!r}: a {self.task} model needs a decoder")
        for field_name in (
            "model_factory",
            "checkpoint_transform",
            "stem_selection",
            "checkpoint_loader",
            "msst_import",
            "uvr_import",
            "decoder",
        ):
            value = getattr(self, field_name)
            if value is not None and (value.count(":") != 1 or value.startswith(":")):
                raise ValueError(
                    f"architecture {self.name!r}: {field_name} must be 'module:attribute', "
                    f"got {value!r}"
                )

    def parse_params(self, params: Mapping[str, Any]) -> BaseModel:
        """Validate raw params (e.g. a manifest's) into the architecture's params model."""
        return self.params_model.model_validate(dict(params))

    def build_model(self, params: BaseModel) -> torch.nn.Module:
        factory: Callable[[BaseModel], torch.nn.Module] = resolve(self.model_factory)
        return factory(params)

    def transform_checkpoint(
        self, state_dict: dict[str, torch.Tensor], params: BaseModel
    ) -> dict[str, torch.Tensor]:
        if self.checkpoint_transform is None:
            return state_dict
        transform: Callable[[dict[str, torch.Tensor], BaseModel], dict[str, torch.Tensor]]
        transform = resolve(self.checkpoint_transform)
        return transform(state_dict, params)

    def select_stems(
        self, network: torch.nn.Module, params: BaseModel, stems: Sequence[str]
    ) -> tuple[torch.nn.Module, tuple[str, ...]] | None:
        """Prune `network` to `stems`; `None` when the architecture cannot prune."""
        if self.stem_selection is None:
            return None
        select: Callable[
            [torch.nn.Module, BaseModel, tuple[str, ...]], tuple[torch.nn.Module, tuple[str, ...]]
        ] = resolve(self.stem_selection)
        return select(network, params, tuple(stems))


def resolve(path: str) -> Any:
    """Import `"package.module:attribute"` (dotted attributes allowed after the colon)."""
    module_name, _, attribute = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj
