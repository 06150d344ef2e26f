"""Decoding speed of FFmpeg (PyAV) and libsndfile, and peak memory of `splifft run` on m4a input.

    python benchmarks/decode_speed.py [--minutes 10] [--run-minutes 60] [--repeats 3]
                                      [--workdir DIR] [--parts decode run] [--model ID]

*decode*: a `--minutes` stereo 44.1 kHz track (chords plus noise, `memory_vs_length.write_track`)
as 16-bit FLAC and as a 320 kbit/s mp3 (LAME through PyAV), read whole in blocks by
`splifft_core.audio.FileSource` (what `splifft run` reads with), by
`splifft_core.media.decode_blocks` (FFmpeg through PyAV) and by `soundfile` (libsndfile); best
of `--repeats`, interleaved. *run*: peak RSS of a fresh `python -m splifft run` process (from
`wait4`, `memory_vs_length.measure`) with `--model` (default: the HPSS filter, no weights) on
a 1-minute and a
`--run-minutes` track, as 256 kbit/s AAC in m4a and as 16-bit WAV. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.memory_vs_length import RATE, measure, write_track
from splifft_core.audio import BLOCK_FRAMES, FileSource
from splifft_core.media import decode_blocks

MODEL = "hpss-fitzgerald-median"


def encode(src: Path, dst: Path, container: str, codec: str, bit_rate: int) -> None:
    """Encode the stereo file `src` into `dst` with PyAV, block by block (never held whole)."""
    import av

    with sf.SoundFile(str(src)) as f, av.open(str(dst), "w", format=container) as out:
        stream = out.add_stream(codec, rate=RATE, layout="stereo")
        assert isinstance(stream, av.AudioStream)
        stream.bit_rate = bit_rate
        done = 0
        while True:
            block = f.read(RATE * 10, dtype="float32", always_2d=True)
            if not len(block):
                break
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block.T), format="fltp", layout="stereo"
            )
            frame.sample_rate = RATE
            frame.pts = done
            done += len(block)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def read_file_source(path: Path, workdir: Path) -> int:
    """Our reader as `splifft run` uses it: open (check pass; a media file is decoded to a
    temporary WAV), then `read` the whole track in blocks."""
    with FileSource(path, model_rate=RATE, model_channels=2, temp_dir=workdir) as source:
        for start in range(0, source.length, BLOCK_FRAMES):
            source.read(start, min(start + BLOCK_FRAMES, source.length))
        return source.length


def read_decode_blocks(path: Path, workdir: Path) -> int:
    return sum(len(block) for block in decode_blocks(path))


def read_soundfile(path: Path, workdir: Path) -> int:
    frames = 0
    with sf.SoundFile(str(path)) as f:
        while True:
            block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
            if not len(block):
                return frames
            frames += len(block)


Reader = Callable[[Path, Path], int]
READERS: list[tuple[str, Reader]] = [
    ("splifft `FileSource`", read_file_source),
    ("`splifft_core.media.decode_blocks` (FFmpeg, PyAV)", read_decode_blocks),
    ("`soundfile` (libsndfile)", read_soundfile),
]


def file_source_path(suffix: str) -> str:
    if suffix == ".flac":
        return "libsndfile: check pass, then reads"
    return "FFmpeg (`decode_blocks`) into a temporary WAV, then reads it"


def decode_table(minutes: float, repeats: int, workdir: Path) -> list[str]:
    flac = workdir / f"decode_{minutes:g}min.flac"
    mp3 = workdir / f"decode_{minutes:g}min.mp3"
    write_track(flac, minutes)
    encode(flac, mp3, "mp3", "libmp3lame", 320_000)
    seconds = minutes * 60
    import av  # noqa: F401  (imported before the clock starts, as `splifft run` has them)
    import torch  # noqa: F401

    best: dict[tuple[Path, str], float] = {}
    frames: dict[tuple[Path, str], int] = {}
    for _ in range(repeats):
        for path in (flac, mp3):
            for name, reader in READERS:
                start = time.perf_counter()
                frames[path, name] = reader(path, workdir)
                wall = time.perf_counter() - start
                best[path, name] = min(wall, best.get((path, name), wall))
                print(f"  {path.name:<22} {name:<52} {wall:7.2f} s", file=sys.stderr, flush=True)
    lines = [
        f"{minutes:g}-minute stereo 44.1 kHz track, blocks of {BLOCK_FRAMES} frames, "
        f"best of {repeats}:",
        "",
        "| format | reader | decodes with | frames | seconds | × realtime |",
        "|---|---|---|--:|--:|--:|",
    ]
    for path, label in ((flac, "FLAC 16-bit"), (mp3, "mp3 320k (LAME)")):
        for name, _ in READERS:
            how = {
                READERS[0][0]: file_source_path(path.suffix),
                READERS[1][0]: "FFmpeg",
                READERS[2][0]: "libsndfile",
            }[name]
            wall = best[path, name]
            lines.append(
                f"| {label} | {name} | {how} | {frames[path, name]} | {wall:.2f} | "
                f"{seconds / wall:.0f}× |"
            )
    for path in (flac, mp3):
        path.unlink()
    return lines


def run_table(run_minutes: float, workdir: Path, model: str = MODEL) -> list[str]:
    out = workdir / "out"
    rows: list[tuple[str, float, float, float]] = []
    for minutes in sorted({1.0, run_minutes}):
        wav = workdir / f"run_{minutes:g}min.wav"
        m4a = workdir / f"run_{minutes:g}min.m4a"
        write_track(wav, minutes)
        encode(wav, m4a, "ipod", "aac", 256_000)
        for label, path in (("m4a (AAC 256k)", m4a), ("WAV 16-bit", wav)):
            args = ["run", str(path), "-o", str(out), "-m", model, "--format", "flac"]
            wall, peak = measure([*args, "--device", "cpu", "-q"])
            rows.append((label, minutes, wall, peak))
            print(f"  {path.name:<22} wall {wall:7.1f} s  peak {peak:6.0f} MiB", file=sys.stderr)
        for path in (wav, m4a):
            path.unlink()
    first = {label: peak for label, minutes, _, peak in rows if minutes == rows[0][1]}
    lines = [
        f"`splifft run INPUT -o OUT -m {model} --format flac --device cpu -q`, "
        "a fresh process each:",
        "",
        "| input | minutes | wall s | × realtime | peak RSS MiB | × its 1-minute peak |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for label, minutes, wall, peak in sorted(rows):
        lines.append(
            f"| {label} | {minutes:g} | {wall:.1f} | {minutes * 60 / wall:.1f}× | {peak:.0f} | "
            f"{peak / first[label]:.2f} |"
        )
    return lines


def machine() -> str:
    import av

    return (
        f"machine: {platform.machine()}, {os.cpu_count()} logical cores; Python "
        f"{platform.python_version()}; PyAV {av.__version__} (FFmpeg "
        f"{av.ffmpeg_version_info}); soundfile {sf.__version__} (libsndfile "
        f"{sf.__libsndfile_version__})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="decode track length")
    parser.add_argument("--run-minutes", type=float, default=60.0, help="`splifft run` length")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp folder")
    parser.add_argument(
        "--model", default=MODEL, help="the model of the `splifft run` rows (default: %(default)s)"
    )
    parser.add_argument("--parts", nargs="+", choices=["decode", "run"], default=["decode", "run"])
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="splifft-decode-", dir=opts.workdir) as tmp:
        workdir = Path(tmp)
        lines = [machine(), ""]
        if "decode" in opts.parts:
            lines += [*decode_table(opts.minutes, opts.repeats, workdir), ""]
        if "run" in opts.parts:
            lines += [*run_table(opts.run_minutes, workdir, opts.model), ""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
