"""Downloads through the real huggingface_hub client against a stand-in Hub on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from splifft.cli import main
from splifft_core import hub as splifft_hub
from splifft_core.errors import DigestMismatchError, DownloadError
from splifft_core.manifest import Manifest
from splifft_core.plugins import PluginHost
from tests.fake_plugins import identity
from tests.hub_server import StandInHub, identity_manifest, sha256, write_user_manifest

WEIGHTS = b"\x01weights" * 4000  # 32 kB: an "LFS" file (served through the CDN redirect)
CONFIG = b'{"note": "a small regular file"}'


@pytest.fixture
def no_retry_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub sleeps a second between its resume attempts."""
    monkeypatch.setattr("huggingface_hub.file_download.time.sleep", lambda seconds: None)


def hf_manifest(
    revision: str = "main", sha: str | None = None, filename: str = "model.ckpt"
) -> Manifest:
    resource = {"kind": "hf", "repo_id": "org/gain", "filename": filename, "revision": revision}
    if sha:
        resource["sha256"] = sha
    return Manifest.model_validate(identity_manifest("identity-test-hub", [resource]))


def quiet(message: str) -> None:
    pass


def test_download_then_cache_hit_sends_only_head(hub: StandInHub) -> None:
    hub.commit("org/gain", {"model.ckpt": WEIGHTS, "config.json": CONFIG})
    manifest = hf_manifest(sha=sha256(WEIGHTS))
    assert splifft_hub.cached_path(manifest, manifest.resources[0]) is None
    (path,) = splifft_hub.fetch_weights(manifest, notify=quiet)
    assert path.read_bytes() == WEIGHTS
    assert hub.count("GET", "/cdn/") == 1
    # the blob lives in the standard HF cache (HF_HUB_CACHE), shared with other HF tools
    assert path.is_relative_to(splifft_hub.hf_cache_dir())
    assert (path.parent.parent.parent / "blobs" / sha256(WEIGHTS)).is_file()

    again = splifft_hub.fetch_weights(manifest, notify=quiet)
    assert again == [path]
    assert hub.count("GET", "/cdn/") == 1  # a branch revision: one HEAD, no second download
    assert hub.count("HEAD", "/resolve/main/model.ckpt") == 2
    assert splifft_hub.cached_path(manifest, manifest.resources[0]) == path


def test_pinned_commit_is_served_and_cache_hit_contacts_nobody(hub: StandInHub) -> None:
    old = b"old weights" * 100
    pinned = hub.commit("org/gain", {"model.ckpt": old})
    hub.commit("org/gain", {"model.ckpt": WEIGHTS})  # main moves on
    manifest = hf_manifest(revision=pinned, sha=sha256(old))
    (path,) = splifft_hub.fetch_weights(manifest, notify=quiet)
    assert path.read_bytes() == old
    assert f"/org/gain/resolve/{pinned}/model.ckpt" in {r.path for r in hub.requests}

    latest = hf_manifest(sha=sha256(WEIGHTS))
    (latest_path,) = splifft_hub.fetch_weights(latest, notify=quiet)
    assert latest_path.read_bytes() == WEIGHTS and latest_path != path

    before = len(hub.requests)
    assert splifft_hub.fetch_weights(manifest, notify=quiet) == [path]
    assert len(hub.requests) == before  # a commit pin with the file cached needs no request


def test_offline_hit_and_miss(hub: StandInHub, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.commit("org/gain", {"model.ckpt": WEIGHTS})
    manifest = hf_manifest(sha=sha256(WEIGHTS))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError) as miss:
        splifft_hub.fetch_weights(manifest, notify=quiet)
    message = str(miss.value)
    assert "HF_HUB_OFFLINE" in message and "splifft pull identity-test-hub" in message
    assert "\n" not in message
    assert hub.requests == []

    monkeypatch.delenv("HF_HUB_OFFLINE")
    (path,) = splifft_hub.fetch_weights(manifest, notify=quiet)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(hub.requests)
    assert splifft_hub.fetch_weights(manifest, notify=quiet) == [path]
    assert len(hub.requests) == before


@pytest.mark.parametrize(
    ("repo", "revision", "filename", "expected"),
    [
        ("org/gain", "main", "missing.ckpt", "file not found"),
        ("org/gain", "v9", "model.ckpt", "revision not found"),
        ("org/nothing", "main", "model.ckpt", "repository not found"),
    ],
)
def test_not_found_is_one_line(
    hub: StandInHub, repo: str, revision: str, filename: str, expected: str
) -> None:
    hub.commit("org/gain", {"model.ckpt": WEIGHTS})
    resource = {"kind": "hf", "repo_id": repo, "filename": filename, "revision": revision}
    manifest = Manifest.model_validate(identity_manifest("identity-test-hub", [resource]))
    with pytest.raises(DownloadError, match=expected) as error:
        splifft_hub.fetch_weights(manifest, notify=quiet)
    assert f"{repo}/{filename}@{revision}" in str(error.value)
    assert "\n" not in str(error.value)


def test_tampered_cached_file_is_refused_with_both_digests(hub: StandInHub) -> None:
    hub.commit("org/gain", {"model.ckpt": WEIGHTS})
    manifest = hf_manifest(sha=sha256(WEIGHTS))
    (path,) = splifft_hub.fetch_weights(manifest, notify=quiet)
    tampered = b"evil" + WEIGHTS[4:]
    path.resolve().write_bytes(tampered)
    with pytest.raises(DigestMismatchError) as error:
        splifft_hub.fetch_weights(manifest, notify=quiet)
    message = str(error.value)
    assert sha256(WEIGHTS) in message and sha256(tampered) in message
    assert "splifft rm identity-test-hub" in message


def test_without_a_digest_the_hubs_lfs_digest_is_checked(hub: StandInHub) -> None:
    hub.commit("org/gain", {"model.ckpt": WEIGHTS})
    (path,) = splifft_hub.fetch_weights(hf_manifest(sha=sha256(WEIGHTS)), notify=quiet)
    path.resolve().write_bytes(b"tampered")
    digestless = Manifest.model_validate(
        identity_manifest(
            "identity-test-other", [{"kind": "hf", "repo_id": "org/gain", "filename": "model.ckpt"}]
        )
    )
    with pytest.raises(DigestMismatchError, match=f"LFS digest is {sha256(WEIGHTS)}"):
        splifft_hub.fetch_weights(digestless, notify=quiet)
    assert splifft_hub.recorded_digests() == {}


def test_wrong_upstream_content_is_refused(hub: StandInHub) -> None:
    hub.commit("org/gain", {"model.ckpt": WEIGHTS})
    manifest = hf_manifest(sha="0" * 64)
    with pytest.raises(DigestMismatchError, match=f"expected {'0' * 64}, got {sha256(WEIGHTS)}"):
        splifft_hub.fetch_weights(manifest, notify=quiet)


def test_interrupted_transfer_leaves_nothing_that_passes_as_complete(
    hub: StandInHub, no_retry_pause: None
) -> None:
    hub.commit("org/gain", {"model.ckpt": WEIGHTS})
    manifest = hf_manifest(sha=sha256(WEIGHTS))
    hub.cut["org/gain/model.ckpt"] = 1000  # every attempt (and huggingface_hub's resumes) dies
    with pytest.raises(DownloadError, match=r"download of org/gain/model\.ckpt@main failed"):
        splifft_hub.fetch_weights(manifest, notify=quiet)
    assert splifft_hub.cached_path(manifest, manifest.resources[0]) is None
    cache = splifft_hub.hf_cache_dir()
    leftovers = [p for p in cache.rglob("*") if p.is_file() and "blobs" in p.parts]
    assert leftovers == []

    del hub.cut["org/gain/model.ckpt"]
    (path,) = splifft_hub.fetch_weights(manifest, notify=quiet)
    assert path.read_bytes() == WEIGHTS


def test_a_transfer_cut_once_is_retried(hub: StandInHub, no_retry_pause: None) -> None:
    hub.commit("org/gain", {"model.ckpt": WEIGHTS})
    manifest = hf_manifest(sha=sha256(WEIGHTS))
    hub.cut["org/gain/model.ckpt"] = 1000
    hub.cut_times["org/gain/model.ckpt"] = 1
    (path,) = splifft_hub.fetch_weights(manifest, notify=quiet)
    assert path.read_bytes() == WEIGHTS
    assert hub.count("GET", "/cdn/") == 2  # huggingface_hub retried (resuming what it had)


def test_digestless_manifest_records_and_then_enforces(hub: StandInHub) -> None:
    hub.commit("org/gain", {"model.ckpt": WEIGHTS})
    manifest = hf_manifest()
    notes: list[str] = []
    (path,) = splifft_hub.fetch_weights(manifest, notify=notes.append)
    assert len(notes) == 1 and f"recorded {sha256(WEIGHTS)}" in notes[0]
    assert splifft_hub.expected_digest(manifest, manifest.resources[0]) == sha256(WEIGHTS)
    path.resolve().write_bytes(b"changed")
    with pytest.raises(DigestMismatchError, match=sha256(WEIGHTS)):
        splifft_hub.fetch_weights(manifest, notify=notes.append)
    assert len(notes) == 1


# -- URL resources ------------------------------------------------------------------------------


def url_manifest(server: StandInHub, sha: str | None = None, size: int | None = None) -> Manifest:
    resource: dict[str, object] = {
        "kind": "url",
        "url": server.url("gain.ckpt"),
        "filename": "gain.ckpt",
    }
    if sha:
        resource["sha256"] = sha
    if size:
        resource["size"] = size
    return Manifest.model_validate(identity_manifest("identity-test-url", [resource]))


def test_url_download_resumes_after_an_interruption(hub: StandInHub) -> None:
    hub.plain["gain.ckpt"] = WEIGHTS
    manifest = url_manifest(hub, sha=sha256(WEIGHTS), size=len(WEIGHTS))
    hub.cut["files/gain.ckpt"] = 5000
    hub.cut_times["files/gain.ckpt"] = 1
    with pytest.raises(DownloadError, match="run the command again to resume"):
        splifft_hub.fetch_weights(manifest, notify=quiet)
    target = splifft_hub.url_cache_path(manifest, manifest.resources[0])  # type: ignore[arg-type]
    assert not target.exists()
    assert target.with_name("gain.ckpt.part").stat().st_size == 5000

    (path,) = splifft_hub.fetch_weights(manifest, notify=quiet)
    assert path == target and path.read_bytes() == WEIGHTS
    assert hub.requests[-1].range == "bytes=5000-"
    assert not target.with_name("gain.ckpt.part").exists()


def test_url_without_digest_records_it_with_a_message(hub: StandInHub) -> None:
    hub.plain["gain.ckpt"] = WEIGHTS
    manifest = url_manifest(hub)
    notes: list[str] = []
    splifft_hub.fetch_weights(manifest, notify=notes.append)
    assert notes == [
        f"identity-test-url: manifest has no sha256 for gain.ckpt; recorded {sha256(WEIGHTS)} "
        "from this download"
    ]
    splifft_hub.fetch_weights(manifest, notify=notes.append)
    assert len(notes) == 1 and hub.count("GET", "/files/") == 1


def test_url_404_and_offline_miss(hub: StandInHub, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = url_manifest(hub)
    with pytest.raises(DownloadError, match="HTTP 404"):
        splifft_hub.fetch_weights(manifest, notify=quiet)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError, match="splifft pull identity-test-url"):
        splifft_hub.fetch_weights(manifest, notify=quiet)


# -- the CLI: pull, verify, rm --------------------------------------------------------------------


@pytest.fixture
def cli_models(
    hub: StandInHub, plugin_host: Callable[..., PluginHost]
) -> tuple[StandInHub, dict[str, Path]]:
    """Two user-local models sharing one Hub file, a third with its own, and a URL model."""
    plugin_host(identity)
    hub.commit("org/gain", {"model.ckpt": WEIGHTS, "other.ckpt": CONFIG * 10})
    hub.plain["gain.ckpt"] = WEIGHTS
    shared = {"kind": "hf", "repo_id": "org/gain", "filename": "model.ckpt"}
    files = {
        "a": write_user_manifest(
            identity_manifest("identity-test-a", [{**shared, "sha256": sha256(WEIGHTS)}])
        ),
        "b": write_user_manifest(identity_manifest("identity-test-b", [shared])),
        "c": write_user_manifest(
            identity_manifest(
                "identity-test-c", [{"kind": "hf", "repo_id": "org/gain", "filename": "other.ckpt"}]
            )
        ),
        "u": write_user_manifest(
            identity_manifest(
                "identity-test-u",
                [{"kind": "url", "url": hub.url("gain.ckpt"), "filename": "gain.ckpt"}],
            )
        ),
    }
    return hub, files


def test_pull_verify_rm(
    cli_models: tuple[StandInHub, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pull", "identity-test-a", "identity-test-c", "identity-test-u"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [
        "identity-test-a",
        "identity-test-c",
        "identity-test-u",
    ]
    assert main(["pull", "identity-test-gain"]) == 0  # the fake plugin's weightless model
    assert "no weights to download" in capsys.readouterr().out

    assert main(["ls", "--json"]) == 0
    rows = {row["identifier"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["identity-test-a"]["cached"] is True
    assert rows["identity-test-a"]["size"] == len(WEIGHTS)
    assert rows["identity-test-b"]["cached"] is True  # the same Hub file
    assert rows["identity-test-gain"]["cached"] is True  # weightless
    assert main(["info", "identity-test-u"]) == 0
    info = capsys.readouterr().out
    assert f"sha256:     {sha256(WEIGHTS)} (recorded on first download)" in info
    assert f"source:     {cli_models[0].url('gain.ckpt')}" in info

    assert main(["verify"]) == 0
    lines = capsys.readouterr().out.splitlines()
    status = {(line.split()[0], line.split()[1]) for line in lines}
    assert ("ok", "identity-test-a") in status
    assert ("ok", "identity-test-b") in status  # no digest of its own: the Hub's LFS sha256
    assert ("ok", "identity-test-c") in status  # recorded by its pull
    assert ("ok", "identity-test-u") in status

    # b shares a's file: removing a keeps it; removing b too deletes the blob
    assert main(["rm", "identity-test-a"]) == 0
    assert "also used by model 'identity-test-b'" in capsys.readouterr().out
    assert main(["rm", "identity-test-a", "identity-test-b", "identity-test-u"]) == 0
    removed = capsys.readouterr().out
    assert "identity-test-a: removed" in removed and "identity-test-u: removed" in removed
    assert "identity-test-b: model.ckpt: not cached" in removed  # a's removal took it
    cache = splifft_hub.hf_cache_dir()
    assert not list(cache.rglob(sha256(WEIGHTS)))
    assert main(["verify", "identity-test-a"]) == 1
    assert "missing" in capsys.readouterr().out
    assert main(["verify", "identity-test-c"]) == 0  # the other file of the repo is untouched


def test_verify_reports_a_tampered_file(
    cli_models: tuple[StandInHub, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pull", "identity-test-a"]) == 0
    capsys.readouterr()
    manifest = Manifest.model_validate_json(cli_models[1]["a"].read_text())
    path = splifft_hub.cached_path(manifest, manifest.resources[0])
    assert path is not None
    path.resolve().write_bytes(b"tampered")
    assert main(["verify", "identity-test-a"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("MISMATCH  identity-test-a")
    assert sha256(WEIGHTS) in line and sha256(b"tampered") in line


def test_pull_of_several_reports_each_failure_and_goes_on(
    cli_models: tuple[StandInHub, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pull", "identity-test-nope", "identity-test-c"]) == 1
    captured = capsys.readouterr()
    assert "unknown model 'identity-test-nope'" in captured.err
    assert captured.out.startswith("identity-test-c: ")


def test_downloads_report_progress_through_the_callback(
    hub: StandInHub, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hub and URL downloads both report (filename, bytes so far, total) and print nothing."""
    hub.commit("org/gain", {"model.ckpt": WEIGHTS})
    hub.plain["gain.ckpt"] = WEIGHTS
    reports: list[tuple[str, int, int | None]] = []

    def on_download(filename: str, done: int, total: int | None) -> None:
        reports.append((filename, done, total))

    for manifest in (hf_manifest(sha=sha256(WEIGHTS)), url_manifest(hub, sha=sha256(WEIGHTS))):
        splifft_hub.fetch_weights(manifest, notify=quiet, on_download=on_download)
    by_file: dict[str, list[tuple[int, int | None]]] = {}
    for filename, done, total in reports:
        by_file.setdefault(filename, []).append((done, total))
    assert set(by_file) == {"model.ckpt", "gain.ckpt"}
    for steps in by_file.values():
        assert steps[-1] == (len(WEIGHTS), len(WEIGHTS))
        assert [done for done, _ in steps] == sorted(done for done, _ in steps)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    reports.clear()
    splifft_hub.fetch_weights(hf_manifest(sha=sha256(WEIGHTS)), on_download=on_download)
    assert reports == []  # cached: nothing downloaded, nothing reported
