"""Atomic writes: on success the file appears whole; on any error (KeyboardInterrupt too) the
destination is untouched and no temporary file is left beside it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from splifft_core import atomic
from splifft_core.audio import StemWriter


def plain_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(atomic.TEMP_SUFFIX))


def test_write_text_atomic_creates_folders_and_plain_permissions(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "notes.txt"
    assert atomic.write_text_atomic(target, "hello\n") == target
    assert target.read_text() == "hello\n"
    assert leftovers(target.parent) == []
    if sys.platform != "win32":
        assert stat.S_IMODE(target.stat().st_mode) == plain_mode()  # not mkstemp's 0600


def test_replacing_keeps_the_existing_files_mode(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    target.write_text("old\n")
    target.chmod(0o600)
    atomic.write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    if sys.platform != "win32":
        assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_an_error_in_the_block_leaves_the_destination_untouched(
    tmp_path: Path, error: BaseException
) -> None:
    target = tmp_path / "scores.csv"
    target.write_text("previous\n")
    with pytest.raises(type(error)), atomic.atomic_open(target) as file:
        file.write("half a fi")
        raise error
    assert target.read_text() == "previous\n"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [ValueError("bad"), KeyboardInterrupt()])
def test_atomic_path_removes_its_temp_on_error(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "stem.flac"
    seen: list[Path] = []
    with pytest.raises(type(error)), atomic.atomic_path(target) as temp:
        seen.append(temp)
        assert temp.parent == tmp_path and temp.exists()
        temp.write_bytes(b"partial")
        raise error
    assert not seen[0].exists() and not target.exists()
    assert leftovers(tmp_path) == []


def test_a_failing_rename_removes_the_temp(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # a folder: the rename onto it fails
    (target / "inside").write_text("x")
    with pytest.raises(OSError), atomic.atomic_open(tmp_path / "taken") as file:
        file.write("data")
    assert target.is_dir() and leftovers(tmp_path) == []


def test_atomic_open_refuses_modes_that_do_not_write_a_new_file(tmp_path: Path) -> None:
    for mode in ("r", "a", "r+"):
        with pytest.raises(ValueError), atomic.atomic_open(tmp_path / "x", mode):
            pass
    assert leftovers(tmp_path) == []


def test_binary_mode(tmp_path: Path) -> None:
    target = tmp_path / "blob.bin"
    with atomic.atomic_open(target, "wb") as file:
        file.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"


def test_the_pieces_commit_and_discard(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    temp = atomic.create_temp(target)
    assert temp.name.startswith(".out.json.") and leftovers(tmp_path) == [temp.name]
    temp.write_text("{}")
    assert atomic.commit(temp, target) == target and target.read_text() == "{}"
    other = atomic.create_temp(target)
    atomic.discard(other)
    atomic.discard(other)  # twice: still no error
    assert leftovers(tmp_path) == [] and target.read_text() == "{}"


ABANDON = """
import os, sys
from pathlib import Path
from splifft_core import atomic
folder = Path(sys.argv[1])
kept = atomic.create_temp(folder / "kept.flac")
atomic.commit(kept, folder / "kept.flac")
atomic.create_temp(folder / "lost.flac")  # an interrupt before its owner could clean it up
atomic.temporary_file("splifft-resampled-", ".wav", folder)
if sys.argv[2] == "fork":
    pid = os.fork()
    if pid == 0:
        sys.exit(0)  # the child exits through atexit too
    os.waitpid(pid, 0)
    print(sorted(p.name for p in folder.iterdir()))
"""


@pytest.mark.parametrize("fork", ["plain", "fork"])
def test_exit_removes_the_temporary_files_nobody_cleaned_up(tmp_path: Path, fork: str) -> None:
    if fork == "fork" and not hasattr(os, "fork"):
        pytest.skip("no fork here")
    done = subprocess.run(
        [sys.executable, "-c", ABANDON, str(tmp_path), fork],
        capture_output=True,
        text=True,
        check=True,
    )
    if fork == "fork":  # the forked child inherited the register, not the files: all still there
        names = done.stdout.strip()
        assert "'kept.flac'" in names and ".lost.flac." in names and "splifft-resampled-" in names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.flac"]


def test_stem_writer_commits_with_plain_permissions_and_aborts_cleanly(tmp_path: Path) -> None:
    good = StemWriter(tmp_path / "vocals.wav", 8000, 1, "wav", "PCM_16", target_frames=100)
    good.write(np.zeros((60, 1), np.float32))
    assert good.commit() == tmp_path / "vocals.wav"
    if sys.platform != "win32":
        assert stat.S_IMODE((tmp_path / "vocals.wav").stat().st_mode) == plain_mode()
    bad = StemWriter(tmp_path / "drums.wav", 8000, 1, "wav", "PCM_16")
    bad.write(np.zeros((10, 1), np.float32))
    bad.abort()
    assert not (tmp_path / "drums.wav").exists()
    assert leftovers(tmp_path) == []


def test_stem_writer_that_cannot_open_leaves_no_temp(tmp_path: Path) -> None:
    from splifft_core.errors import OutputError

    with pytest.raises(OutputError):
        StemWriter(tmp_path / "x.flac", 8000, 1, "flac", "FLOAT")  # FLAC has no float subtype
    assert leftovers(tmp_path) == []


def test_config_write_failure_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from splifft_core import user_config

    path = tmp_path / "config.toml"
    path.write_text('default_model = "a-b-c"\n')

    def broken_replace(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        user_config.write_value("default_model", "d-e-f", path)
    assert path.read_text() == 'default_model = "a-b-c"\n'
    assert leftovers(tmp_path) == []
