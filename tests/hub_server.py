"""A stand-in Hugging Face Hub on 127.0.0.1 for the real huggingface_hub client.

It answers what `hf_hub_download` asks (huggingface_hub 2.x `file_download.py`):

- `HEAD /{repo_id}/resolve/{revision}/{filename}`: `X-Repo-Commit`, `ETag` (and `X-Linked-Etag`,
  `X-Linked-Size` for LFS files, whose HEAD is a 302 to a CDN host, as on the real Hub);
  404s carry `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`).
- `GET` of the same path (or the CDN location), with `Range` support.
- `GET /files/{name}`: plain URL resources, with `Range` support (resume).

Faults: `cut[key] = n` sends only the first n bytes of a body, then closes the connection, for
`cut_times[key]` responses (default: every one). Every request is logged in `requests`.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


@dataclass
class Repo:
    branches: dict[str, str] = field(default_factory=dict)
    """Branch → commit."""
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    """Commit → file name → content."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str | None


def git_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class StandInHub:
    """Serves repos and plain files; `endpoint` goes into `HF_ENDPOINT`."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.plain: dict[str, bytes] = {}
        self.lfs: dict[str, bytes] = {}
        """sha256 → content, served from the "CDN"."""
        self._lfs_names: dict[str, str] = {}
        """sha256 → `repo_id/filename`: the key of `cut` for a CDN download."""
        self.cut: dict[str, int] = {}
        self.cut_times: dict[str, int] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._commit_counter = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.cdn = f"http://localhost:{self.port}"
        """Another host name for the same server: huggingface_hub treats it as a CDN."""
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- content -------------------------------------------------------------------------------

    def commit(self, repo_id: str, files: dict[str, bytes], branch: str = "main") -> str:
        """A new commit on `branch` with these files (added to the branch's current ones)."""
        repo = self.repos.setdefault(repo_id, Repo())
        with self._lock:
            self._commit_counter += 1
            sha = hashlib.sha1(f"{repo_id}@{self._commit_counter}".encode()).hexdigest()
        previous = repo.commits.get(repo.branches.get(branch, ""), {})
        repo.commits[sha] = {**previous, **files}
        repo.branches[branch] = sha
        return sha

    def url(self, name: str) -> str:
        return f"{self.endpoint}/files/{name}"

    def count(self, method: str, fragment: str) -> int:
        return sum(1 for r in self.requests if r.method == method and fragment in r.path)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> StandInHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- serving -------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet tests

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                path = urlsplit(self.path).path
                hub.requests.append(Request(self.command, path, self.headers.get("Range")))
                if path.startswith("/files/"):
                    name = unquote(path.removeprefix("/files/"))
                    if name not in hub.plain:
                        self._error(404, None)
                        return
                    self._content(hub.plain[name], f"files/{name}", body, {})
                    return
                if path.startswith("/cdn/"):
                    sha = path.removeprefix("/cdn/")
                    if sha not in hub.lfs:
                        self._error(404, None)
                        return
                    self._content(hub.lfs[sha], hub._lfs_key(sha), body, {"ETag": f'"{sha}"'})
                    return
                match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                if match is None:
                    self._error(404, "RepoNotFound")
                    return
                repo_id, revision, filename = (unquote(g) for g in match.groups())
                repo = hub.repos.get(repo_id)
                if repo is None:
                    self._error(404, "RepoNotFound")
                    return
                commit = repo.branches.get(revision, revision)
                if commit not in repo.commits:
                    self._error(404, "RevisionNotFound")
                    return
                files = repo.commits[commit]
                if filename not in files:
                    self._error(404, "EntryNotFound", {"X-Repo-Commit": commit})
                    return
                content = files[filename]
                if filename.endswith((".ckpt", ".pt", ".pth", ".safetensors", ".bin")):
                    # An LFS file: a redirect to the CDN carrying the file's metadata.
                    sha = hashlib.sha256(content).hexdigest()
                    hub.lfs[sha] = content
                    hub._lfs_names[sha] = f"{repo_id}/{filename}"
                    self.send_response(302)
                    self.send_header("Location", f"{hub.cdn}/cdn/{sha}")
                    self.send_header("X-Repo-Commit", commit)
                    self.send_header("X-Linked-Etag", f'"{sha}"')
                    self.send_header("X-Linked-Size", str(len(content)))
                    self.send_header("ETag", f'"{git_sha1(content)}"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {"X-Repo-Commit": commit, "ETag": f'"{git_sha1(content)}"'}
                self._content(content, f"{repo_id}/{filename}", body, headers)

            def _error(
                self, status: int, code: str | None, extra: dict[str, str] | None = None
            ) -> None:
                message = b"not found"
                self.send_response(status)
                if code:
                    self.send_header("X-Error-Code", code)
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(message)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(message)

            def _content(
                self, content: bytes, key: str, body: bool, headers: dict[str, str]
            ) -> None:
                start = 0
                wanted = self.headers.get("Range")
                range_match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted or "")
                if range_match and body:
                    start = int(range_match.group(1))
                    end = int(range_match.group(2) or len(content) - 1)
                    if start >= len(content):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(content)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    part = content[start : end + 1]
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(content)}")
                else:
                    part = content
                    self.send_response(200)
                self.send_header("Content-Length", str(len(part)))
                self.send_header("Accept-Ranges", "bytes")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not body:
                    return
                limit = hub._take_cut(key)
                if limit is not None and limit < len(part):
                    self.wfile.write(part[:limit])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

        return Handler

    def _lfs_key(self, sha: str) -> str:
        return self._lfs_names.get(sha, sha)

    def _take_cut(self, key: str) -> int | None:
        with self._lock:
            if key not in self.cut:
                return None
            remaining = self.cut_times.get(key)
            if remaining is not None:
                if remaining <= 0:
                    return None
                self.cut_times[key] = remaining - 1
            return self.cut[key]


@contextmanager
def running_hub() -> Iterator[StandInHub]:
    hub = StandInHub().start()
    try:
        yield hub
    finally:
        hub.stop()


# -- helpers shared by the hub, registry and import tests ---------------------------------------


def write_user_manifest(data: dict[str, Any], name: str | None = None) -> Path:
    """Write a user-local manifest into `$SPLIFFT_HOME/data/manifests/`."""
    from splifft_core import paths

    folder = paths.user_manifests_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name or data['identifier']}.json"
    target.write_text(json.dumps(data, indent=2))
    return target


def gain_weights(gains: tuple[float, ...]) -> bytes:
    """A state dict of the fake identity architecture, as `torch.save` writes it."""
    import torch

    buffer = io.BytesIO()
    torch.save({"gains": torch.tensor(gains, dtype=torch.float32)}, buffer)
    return buffer.getvalue()


def identity_manifest(identifier: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A manifest of the fake `identity` architecture (two stems) with these resources."""
    return {
        "identifier": identifier,
        "architecture": "identity",
        "plugin": "fake-identity",
        "params": {"chunk_size": 4096, "stems": ["vocals", "drums"], "gains": [1.0, 1.0]},
        "stems": ["vocals", "drums"],
        "sample_rate": 44100,
        "channels": 2,
        "resources": resources,
        "license": "CC0-1.0",
        "inference": {"overlap_ratio": 0.5, "batch_size": 2},
    }


def install_fake_identity(site: Path) -> None:
    """A `fake-identity` distribution (entry point `identity`) on a path entry, for subprocesses."""
    info = site / "fake_identity-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-identity\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[splifft]\nidentity = tests.fake_plugins.identity\n")


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
