"""Manifest validation: nothing in a manifest may point outside its cache folder; the schema is current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from splifft_core.errors import ManifestError
from splifft_core.manifest import Manifest, json_schema
from splifft_core.registry import parse_manifests

REPO = Path(__file__).resolve().parent.parent


def manifest(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "identifier": "identity-test-gain",
        "architecture": "identity",
        "stems": ["vocals"],
        "sample_rate": 44100,
        "channels": 2,
        "resources": [],
    }
    base.update(changes)
    return base


def hf(**changes: Any) -> dict[str, Any]:
    return {"kind": "hf", "repo_id": "org/repo", "filename": "model.ckpt", **changes}


def url(**changes: Any) -> dict[str, Any]:
    return {"kind": "url", "url": "https://example.org/m.ckpt", "filename": "m.ckpt", **changes}


@pytest.mark.parametrize(
    "identifier",
    [
        "identity-../..-x",
        "identity-a-../../etc",
        "identity-a-b/c",
        "identity-a-b\\c",
        "/identity-a-b",
        "C:identity-a-b",
        "identity-a-..",
        "identity-a",
        "Identity-a-b",
        "identity-a-b-c",
        "identity-a-b\n",
    ],
)
def test_identifiers_that_could_escape_are_rejected(identifier: str) -> None:
    with pytest.raises(ValidationError):
        Manifest.model_validate(manifest(identifier=identifier))


@pytest.mark.parametrize(
    "filename",
    [
        "..",
        ".",
        "../model.ckpt",
        "sub/model.ckpt",
        "sub\\model.ckpt",
        "/etc/passwd",
        "C:model.ckpt",
        "c:\\model.ckpt",
        "~model.ckpt",
        "",
        "model\x00.ckpt",
    ],
)
@pytest.mark.parametrize("make", [hf, url])
def test_file_names_that_could_escape_are_rejected(filename: str, make: Any) -> None:
    with pytest.raises(ValidationError, match="filename"):
        Manifest.model_validate(manifest(resources=[make(filename=filename)]))


@pytest.mark.parametrize(
    "field",
    [
        {"subfolder": "../up"},
        {"subfolder": "/abs"},
        {"subfolder": "a\\b"},
        {"revision": "../../x"},
        {"revision": "/main"},
        {"revision": "refs/../../x"},
        {"repo_id": "../x"},
        {"repo_id": "org/.."},
        {"repo_id": "org/a/b"},
    ],
)
def test_hf_locations_that_could_escape_are_rejected(field: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Manifest.model_validate(manifest(resources=[hf(**field)]))


def test_plain_names_and_pins_are_accepted() -> None:
    parsed = Manifest.model_validate(
        manifest(
            resources=[
                hf(subfolder="v1/weights", revision="refs/pr/3"),
                url(filename="model_ep_317_sdr_12.9755.ckpt"),
            ]
        )
    )
    assert [r.filename for r in parsed.resources] == ["model.ckpt", "model_ep_317_sdr_12.9755.ckpt"]


def test_duplicate_file_names_and_unknown_checkpoints_are_rejected() -> None:
    with pytest.raises(ValidationError, match="unique"):
        Manifest.model_validate(manifest(resources=[hf(), url(filename="model.ckpt")]))
    with pytest.raises(ValidationError, match="not one of the resources"):
        Manifest.model_validate(manifest(resources=[hf()], checkpoints=["other.ckpt"]))


def test_identifier_must_start_with_its_architecture() -> None:
    with pytest.raises(ValidationError, match="must start with its architecture"):
        Manifest.model_validate(manifest(identifier="bs_roformer-a-b"))


def test_validation_errors_name_the_origin_in_one_line() -> None:
    with pytest.raises(ManifestError) as error:
        parse_manifests(manifest(resources=[hf(filename="../x")]), "some/file.json")
    message = str(error.value)
    assert message.startswith("some/file.json: manifest 'identity-test-gain': resources.0")
    assert "\n" not in message


def test_committed_schema_is_up_to_date() -> None:
    committed = json.loads((REPO / "registry" / "manifest.schema.json").read_text())
    assert committed == json_schema(), (
        "regenerate it: python -m splifft_core.manifest > registry/manifest.schema.json"
    )
