"""The inputs a run takes: files as given, folders searched for audio files (for `splifft run`
and, beside globs, lists and URIs, for `splifft batch`)."""

from __future__ import annotations

from pathlib import Path

Track = tuple[Path, Path]
"""An input file and its subfolder below the output folder (`.` for a file given as is)."""


def collect_inputs(paths: list[Path], output: Path | None = None) -> list[Track]:
    """Files as given; folders searched recursively for audio files (sorted), each with its
    folder relative to the folder given, so that the output mirrors the input's structure.

    A folder's search skips `output` (a run over `.` with `-o separated` does not take the stems
    of an earlier run as inputs).
    """
    from splifft_core.audio import audio_extensions
    from splifft_core.errors import AudioError

    exts = audio_extensions()
    skip = output.resolve() if output is not None else None

    def wanted(file: Path) -> bool:
        if not file.is_file() or file.suffix.lower() not in exts:
            return False
        return skip is None or skip not in file.resolve().parents

    found: dict[Path, Track] = {}
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if wanted(p))
            if not inside:
                raise AudioError(f"{path}: folder holds no audio files")
            for file in inside:
                found.setdefault(file.resolve(), (file, file.parent.relative_to(path)))
        elif path.exists():
            found.setdefault(path.resolve(), (path, Path(".")))
        else:
            raise AudioError(f"{path}: no such file")
    return list(found.values())
