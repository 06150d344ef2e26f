"""Errors the user sees as one line: what (file, model, plugin) and what is wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class SplifftError(Exception):
    """Base of every error splifft reports to a user; its message is one line."""


class AudioError(SplifftError):
    """Unreadable, empty or malformed audio, or audio the model cannot take."""


class OutputError(SplifftError):
    """An output cannot be written (unwritable folder, would overwrite an input, …)."""


class ModelNotFoundError(SplifftError):
    """No manifest defines this identifier."""


class ManifestError(SplifftError):
    """A manifest is invalid or conflicts with another."""


class PluginError(SplifftError):
    """A plugin failed to load or register, or a needed plugin is missing."""


class CheckpointError(SplifftError):
    """A checkpoint cannot be read or does not fit the model."""


class DigestMismatchError(CheckpointError):
    """A file's sha256 differs from the manifest's."""


class DownloadError(SplifftError):
    """A resource could not be fetched (offline miss, 404, interrupted transfer)."""


class MsstConfigError(SplifftError):
    """A Music-Source-Separation-Training config has keys we cannot map."""


class UvrModelDataError(SplifftError):
    """An Ultimate Vocal Remover model's parameters are unknown or do not fit its file."""


class ModelOutputError(SplifftError):
    """A model's output is unusable: NaN or infinite values (broken weights, fp16 overflow)."""


class ConfigError(SplifftError):
    """Inference settings are inconsistent (e.g. overlap ≥ 1, unknown stem)."""


def validation_message(exc: ValidationError, root: str = "") -> str:
    """The first error of a pydantic `ValidationError` as one line: `loc: msg`.

    `loc` is the dotted path of the offending field (`root` when the error is about the whole
    value; no prefix at all when both are empty).
    """
    errors = exc.errors()
    if not errors:
        return " ".join(str(exc).split())
    first = errors[0]
    loc = ".".join(str(part) for part in first["loc"]) or root
    message = " ".join(str(first["msg"]).split())
    return f"{loc}: {message}" if loc else message
