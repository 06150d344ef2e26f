"""The `archive` resource kind: a file inside a tar or zip archive at a URL (a release tarball),
served by the stand-in on 127.0.0.1."""

from __future__ import annotations

import io
import json
import random
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from splifft.cli import main
from splifft_core import hub as splifft_hub
from splifft_core import paths
from splifft_core.errors import DigestMismatchError, DownloadError
from splifft_core.manifest import ArchiveResource, Manifest
from tests.hub_server import StandInHub, identity_manifest, sha256, write_user_manifest

INDEX = b"index bytes " * 300
DATA = random.Random(0).randbytes(40_000)  # incompressible: the archive is larger than a cut
META = b"a graph nobody reads" * 100


def tarball(
    files: dict[str, bytes], mode: str = "w:gz", links: dict[str, str] | None = None
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:  # type: ignore[call-overload]
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def archive_manifest(
    server: StandInHub,
    archive: bytes,
    name: str = "4stems.tar.gz",
    members: tuple[str, ...] = ("model.index", "model.data-00000-of-00001"),
    identifier: str = "identity-test-archive",
    **extra: Any,
) -> dict[str, Any]:
    resources = [
        {
            "kind": "archive",
            "url": server.url(name),
            "archive_sha256": sha256(archive),
            "member": member,
            **extra,
        }
        for member in members
    ]
    return identity_manifest(identifier, resources)


def quiet(message: str) -> None:
    pass


def test_members_come_from_one_download_and_the_archive_is_deleted(hub: StandInHub) -> None:
    archive = tarball(
        {
            "./checkpoint": b"x",
            "./model.index": INDEX,
            "./model.data-00000-of-00001": DATA,
            "./model.meta": META,
        }
    )
    hub.plain["4stems.tar.gz"] = archive
    manifest = Manifest.model_validate(archive_manifest(hub, archive, archive_size=len(archive)))
    notes: list[str] = []
    index, data = splifft_hub.fetch_weights(manifest, notify=notes.append)
    assert index.read_bytes() == INDEX and data.read_bytes() == DATA
    assert hub.count("GET", "/files/4stems.tar.gz") == 1
    folder = paths.cache_dir() / "archives" / sha256(archive)[:16]
    assert index.parent == folder
    # only the named members were written; the archive itself is gone
    assert sorted(p.name for p in folder.iterdir()) == ["model.data-00000-of-00001", "model.index"]
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]
    # the members' digests were recorded from the verified archive, then enforced
    assert any(f"recorded {sha256(INDEX)}" in note for note in notes)
    assert splifft_hub.fetch_weights(manifest, notify=quiet) == [index, data]
    assert hub.count("GET", "/files/") == 1
    data.write_bytes(DATA[:-1] + b"!")
    with pytest.raises(DigestMismatchError, match="sha256 mismatch") as caught:
        splifft_hub.fetch_weights(manifest, notify=quiet)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "archive"),
    [
        ("m.tar", tarball({"model.index": INDEX, "model.data-00000-of-00001": DATA}, mode="w")),
        (
            "m.tar.xz",
            tarball({"model.index": INDEX, "model.data-00000-of-00001": DATA}, mode="w:xz"),
        ),
        ("m.zip", zipped({"model.index": INDEX, "model.data-00000-of-00001": DATA})),
        # files in a single top folder are found by their path below it
        ("m.tgz", tarball({"4stems/model.index": INDEX, "4stems/model.data-00000-of-00001": DATA})),
    ],
)
def test_archive_formats(hub: StandInHub, name: str, archive: bytes) -> None:
    hub.plain[name] = archive
    manifest = Manifest.model_validate(archive_manifest(hub, archive, name=name))
    index, data = splifft_hub.fetch_weights(manifest, notify=quiet)
    assert (index.read_bytes(), data.read_bytes()) == (INDEX, DATA)


def test_a_wrong_archive_is_refused_before_anything_is_extracted(hub: StandInHub) -> None:
    archive = tarball({"model.index": INDEX, "model.data-00000-of-00001": DATA})
    hub.plain["4stems.tar.gz"] = tarball(
        {"model.index": b"evil", "model.data-00000-of-00001": DATA}
    )
    manifest = Manifest.model_validate(archive_manifest(hub, archive))
    with pytest.raises(DigestMismatchError) as caught:
        splifft_hub.fetch_weights(manifest, notify=quiet)
    message = str(caught.value)
    assert hub.url("4stems.tar.gz") in message and sha256(archive) in message
    assert "\n" not in message
    root = paths.cache_dir() / "archives"
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_member_digest_in_the_manifest_is_checked(hub: StandInHub) -> None:
    archive = tarball({"model.index": INDEX})
    hub.plain["a.tar.gz"] = archive
    manifest = Manifest.model_validate(
        archive_manifest(
            hub, archive, name="a.tar.gz", members=("model.index",), sha256=sha256(b"other")
        )
    )
    with pytest.raises(DigestMismatchError, match=r"model\.index of"):
        splifft_hub.fetch_weights(manifest, notify=quiet)
    assert not (paths.cache_dir() / "archives" / sha256(archive)[:16] / "model.index").exists()


def test_missing_member_and_links_are_one_line_errors(hub: StandInHub) -> None:
    archive = tarball({"model.index": INDEX}, links={"model.data-00000-of-00001": "/etc/passwd"})
    hub.plain["a.tar.gz"] = archive
    manifest = Manifest.model_validate(archive_manifest(hub, archive, name="a.tar.gz"))
    with pytest.raises(DownloadError, match=r"has no regular file model\.data-00000-of-00001"):
        splifft_hub.fetch_weights(manifest, notify=quiet)
    assert not list((paths.cache_dir() / "archives").rglob("model.data*"))

    hub.plain["b.tar.gz"] = b"not an archive at all"
    bad = Manifest.model_validate(
        archive_manifest(
            hub, b"not an archive at all", name="b.tar.gz", identifier="identity-test-bad"
        )
    )
    with pytest.raises(DownloadError, match="not a readable tar or zip archive"):
        splifft_hub.fetch_weights(bad, notify=quiet)


def test_members_cannot_escape_the_cache() -> None:
    for member in ("../model.index", "/etc/passwd", "a/../../b", "C:/x", "a\\b"):
        with pytest.raises(ValueError, match="relative path inside the archive"):
            ArchiveResource(url="https://example.org/a.tgz", archive_sha256="0" * 64, member=member)
    with pytest.raises(ValueError):
        ArchiveResource(url="https://example.org/a.tgz", archive_sha256="short", member="m")


def test_an_interrupted_download_resumes(hub: StandInHub) -> None:
    archive = tarball({"model.index": INDEX, "model.data-00000-of-00001": DATA})
    hub.plain["4stems.tar.gz"] = archive
    hub.cut["files/4stems.tar.gz"] = 1000
    hub.cut_times["files/4stems.tar.gz"] = 1
    manifest = Manifest.model_validate(archive_manifest(hub, archive, archive_size=len(archive)))
    with pytest.raises(DownloadError, match="run the command again to resume"):
        splifft_hub.fetch_weights(manifest, notify=quiet)
    root = paths.cache_dir() / "archives"
    assert [p.name for p in root.rglob("*") if p.is_file()] == [
        f"{sha256(archive)[:16]}.tar.gz.part"
    ]
    index, data = splifft_hub.fetch_weights(manifest, notify=quiet)
    assert hub.requests[-1].range == "bytes=1000-"
    assert (index.read_bytes(), data.read_bytes()) == (INDEX, DATA)
    assert not [p for p in root.iterdir() if p.is_file()]


def test_offline_miss_names_the_pull(hub: StandInHub, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tarball({"model.index": INDEX, "model.data-00000-of-00001": DATA})
    hub.plain["4stems.tar.gz"] = archive
    manifest = Manifest.model_validate(archive_manifest(hub, archive))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        DownloadError, match="HF_HUB_OFFLINE is set; run `splifft pull identity-test-archive`"
    ):
        splifft_hub.fetch_weights(manifest, notify=quiet)
    assert hub.requests == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    paths_online = splifft_hub.fetch_weights(manifest, notify=quiet)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert splifft_hub.fetch_weights(manifest, notify=quiet) == paths_online


def test_pull_info_verify_rm_through_the_cli(
    hub: StandInHub, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tarball({"model.index": INDEX, "model.data-00000-of-00001": DATA})
    hub.plain["4stems.tar.gz"] = archive
    write_user_manifest(archive_manifest(hub, archive))
    # a second model naming the same members shares the extracted files
    write_user_manifest(archive_manifest(hub, archive, identifier="identity-test-twin"))
    assert main(["pull", "identity-test-archive"]) == 0
    assert main(["pull", "identity-test-twin"]) == 0
    assert hub.count("GET", "/files/") == 1
    capsys.readouterr()
    assert main(["info", "identity-test-archive", "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert [f["source"] for f in files] == [
        hub.url("4stems.tar.gz") + "#model.index",
        hub.url("4stems.tar.gz") + "#model.data-00000-of-00001",
    ]
    assert all(f["cached"] and f["archive_sha256"] == sha256(archive) for f in files)
    assert main(["verify", "identity-test-archive"]) == 0
    assert capsys.readouterr().out.count("ok ") == 2
    assert main(["rm", "identity-test-archive"]) == 0
    out = capsys.readouterr().out
    assert "also used by model 'identity-test-twin'" in out
    assert main(["rm", "identity-test-archive", "identity-test-twin"]) == 0
    assert capsys.readouterr().out.count("removed ") == 2
    folder = paths.cache_dir() / "archives" / sha256(archive)[:16]
    assert not folder.exists() or not any(Path(folder).iterdir())
