"""`splifft ensemble`: combine several estimates of one stem (from different models) into one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, get_args

from splifft.cli import render
from splifft_core.types import EnsembleType

TYPES: tuple[str, ...] = get_args(EnsembleType)


DESCRIPTION = """\
Combine estimates of one stem (e.g. vocals from several models) into one file, with the
ensemble types of MSST's ensemble.py and audio-separator (same results):

- avg_wave: the weighted mean per sample (divided by the weights' sum)
- median_wave: the median per sample
- min_wave, max_wave: per sample, the value of least or largest magnitude
- avg_fft: the weighted mean per STFT bin (Hann, n_fft 2048, hop 1024), then the inverse STFT
- median_fft: the median per bin (numpy's complex median, as in MSST)
- min_fft, max_fft: per bin, the value of least magnitude (conservative) or largest (aggressive)
- uvr_min_spec, uvr_max_spec: UVR's Min Spec and Max Spec (min_fft and max_fft with a later
  input winning ties; the output's last partial hop is silent, as UVR writes it)
- ensemble_wav: audio-separator's: per channel, the input channel of least mean magnitude

Only avg_wave and avg_fft use --weights. Inputs are read as by `splifft run`. All are brought
to the first input's sample rate (resampled with soxr), a mono input is repeated to the
others' channel count, and shorter inputs are padded with silence to the longest (the output
has its length). The output's format comes from its suffix (.flac, .wav, .mp3, .m4a, .opus,
.ogg) unless --format names one; it is written atomically and never over an input."""


def add_parser(subparsers: Any) -> None:
    from splifft_core.encoding import FORMATS

    formats = [name for name in FORMATS if name != "stem.mp4"]
    parser = subparsers.add_parser(
        "ensemble",
        help="combine several models' estimates of one stem into one (avg_wave, max_fft, …)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs", nargs="+", type=Path, metavar="FILE", help="estimates of one stem, two or more"
    )
    parser.add_argument(
        "--type",
        dest="kind",
        choices=TYPES,
        default="avg_wave",
        metavar="TYPE",
        help=f"one of {', '.join(TYPES)} (default: avg_wave)",
    )
    parser.add_argument(
        "--weights",
        metavar="W1,W2,…",
        help="comma-separated, one per input (default: all 1)",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="the output file")
    parser.add_argument(
        "--format",
        choices=formats,
        metavar="FORMAT",
        help=f"output format, one of {', '.join(formats)} (default: from the output's suffix)",
    )
    parser.add_argument(
        "--bit-depth",
        type=int,
        choices=(16, 24, 32),
        help="lossless formats: 16 or 24-bit PCM, or 32-bit float (wav only) (default: 24)",
    )
    parser.add_argument("--bitrate", metavar="RATE", help="lossy formats: e.g. 192k")
    parser.add_argument(
        "--clip-mode",
        choices=("rescale", "clamp", "none"),
        default="rescale",
        help="an output beyond full scale: rescale it, clamp to ±1, or none (32-bit float "
        "keeps it, PCM clips) (default: rescale)",
    )
    parser.set_defaults(handler=run)


def parse_weights(text: str | None) -> list[float] | None:
    from splifft_core.errors import ConfigError

    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"--weights {text!r}: give numbers separated by commas") from None


def run(args: argparse.Namespace) -> int:
    from splifft_core.encoding import parse_bitrate
    from splifft_core.ensemble import ensemble_files

    written = ensemble_files(
        args.inputs,
        args.output,
        args.kind,
        parse_weights(args.weights),
        file_format=args.format,
        bit_depth=args.bit_depth,
        bitrate=parse_bitrate(args.bitrate),
        clip_mode=args.clip_mode,
        notify=render.warn,
    )
    print(written)
    return 0
