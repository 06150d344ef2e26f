"""Fetching a manifest's files: Hugging Face Hub, URLs (with resume), local paths; all verified.

Hub files go through `hf_hub_download` into the standard HF cache (shared with other HF tools;
`HF_ENDPOINT`, `HF_HUB_OFFLINE` and tokens are handled by huggingface_hub). URL files land in
`{cache_dir}/downloads/{identifier}/`. Every file's sha256 is checked against the manifest before
use; a manifest without a digest gets the first download's digest recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from splifft_core import paths
from splifft_core.errors import DigestMismatchError, DownloadError
from splifft_core.manifest import HfResource, LocalResource, Manifest, UrlResource

Notify = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"splifft: {message}", file=sys.stderr)


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
        data = json.loads(_digest_record_file().read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _record_digest(key: str, digest: str) -> None:
    records = recorded_digests()
    records[key] = digest
    target = _digest_record_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".digests.", suffix=".part")
    with os.fdopen(fd, "w") as f:
        json.dump(records, f, indent=1, sort_keys=True)
    os.replace(tmp, target)


def _record_key(manifest: Manifest, filename: str) -> str:
    return f"{manifest.identifier}/{filename}"


def expected_digest(
    manifest: Manifest, resource: HfResource | UrlResource | LocalResource
) -> str | None:
    return resource.sha256 or recorded_digests().get(_record_key(manifest, resource.filename))


def verify(
    manifest: Manifest,
    resource: HfResource | UrlResource | LocalResource,
    path: Path,
    notify: Notify = _stderr,
) -> str:
    """Check `path` against the manifest's (or recorded) sha256; record it when there is none."""
    actual = sha256_of(path)
    expected = expected_digest(manifest, resource)
    if expected is None:
        _record_digest(_record_key(manifest, resource.filename), actual)
        notify(
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


def url_cache_path(manifest: Manifest, resource: UrlResource) -> Path:
    return paths.cache_dir() / "downloads" / manifest.identifier / resource.filename


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def cached_path(
    manifest: Manifest,
    resource: HfResource | UrlResource | LocalResource,
    base_dir: Path | None = None,
) -> Path | None:
    """Where the file is on disk now, without downloading; `None` if absent."""
    if isinstance(resource, LocalResource):
        path = _local_path(resource, base_dir)
        return path if path.is_file() else None
    if isinstance(resource, UrlResource):
        path = url_cache_path(manifest, resource)
        return path if path.is_file() else None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        resource.repo_id,
        _hf_filename(resource),
        revision=resource.revision,
        repo_type=resource.repo_type,
    )
    return Path(found) if isinstance(found, str) else None


def _hf_filename(resource: HfResource) -> str:
    return f"{resource.subfolder}/{resource.filename}" if resource.subfolder else resource.filename


def _local_path(resource: LocalResource, base_dir: Path | None) -> Path:
    path = Path(resource.path).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


def fetch(
    manifest: Manifest,
    resource: HfResource | UrlResource | LocalResource,
    base_dir: Path | None = None,
    notify: Notify = _stderr,
) -> Path:
    """Download (if needed) and verify one resource; returns its path."""
    ident = manifest.identifier
    if isinstance(resource, LocalResource):
        path = _local_path(resource, base_dir)
        if not path.is_file():
            raise DownloadError(f"{path}: checkpoint of model {ident!r} not found")
    elif isinstance(resource, UrlResource):
        path = _fetch_url(manifest, resource)
    else:
        path = _fetch_hf(manifest, resource)
    verify(manifest, resource, path, notify)
    return path


def _pull_hint(ident: str) -> str:
    return f"run `splifft pull {ident}` while online"


def _fetch_hf(manifest: Manifest, resource: HfResource) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    ident = manifest.identifier
    where = f"{resource.repo_id}/{_hf_filename(resource)}@{resource.revision}"
    try:
        return Path(
            hf_hub_download(
                resource.repo_id,
                resource.filename,
                subfolder=resource.subfolder,
                revision=resource.revision,
                repo_type=resource.repo_type,
            )
        )
    except LocalEntryNotFoundError:
        if _offline():
            raise DownloadError(
                f"model {ident!r}: {where} is not in the cache and HF_HUB_OFFLINE is set; "
                + _pull_hint(ident)
            ) from None
        raise DownloadError(
            f"model {ident!r}: cannot reach the Hub for {where} and it is not cached; "
            + _pull_hint(ident)
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as exc:
        raise DownloadError(
            f"model {ident!r}: {where} not found on the Hub ({type(exc).__name__})"
        ) from None
    except OSError as exc:
        raise DownloadError(f"model {ident!r}: download of {where} failed ({exc})") from None
    except Exception as exc:
        message = " ".join(str(exc).split())[:200]
        raise DownloadError(f"model {ident!r}: download of {where} failed ({message})") from None


def _fetch_url(manifest: Manifest, resource: UrlResource) -> Path:
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
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(resource.url, headers={"User-Agent": "splifft"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status = getattr(response, "status", 200)
            mode = "ab" if have and status == 206 else "wb"
            total_header = response.headers.get("Content-Length")
            total = int(total_header) + (have if mode == "ab" else 0) if total_header else None
            with open(part, mode) as out, _progress(resource.filename, total) as advance:
                if mode == "ab":
                    advance(have)
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    advance(len(chunk))
    except urllib.error.HTTPError as exc:
        raise DownloadError(
            f"model {ident!r}: {resource.url}: HTTP {exc.code} {exc.reason}"
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DownloadError(
            f"model {ident!r}: download of {resource.url} interrupted ({exc}); run the command "
            "again to resume"
        ) from None
    size = part.stat().st_size
    expected_size = resource.size or total
    if expected_size is not None and size != expected_size:
        raise DownloadError(
            f"model {ident!r}: download of {resource.url} incomplete ({size} of {expected_size} "
            "bytes); run the command again to resume"
        )
    os.replace(part, target)
    return target


@contextlib.contextmanager
def _progress(name: str, total: int | None) -> Iterator[Callable[[int], None]]:
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task(name, total=total)
        yield lambda n: progress.advance(task, n)


def fetch_weights(
    manifest: Manifest, base_dir: Path | None = None, notify: Notify = _stderr
) -> list[Path]:
    """Every weight file of a manifest, downloaded and verified, in load order."""
    return [fetch(manifest, r, base_dir, notify) for r in manifest.weight_resources()]
