"""`splifft serve`: the web app (a page to drop songs on and play their stems, and its JSON API)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from splifft.cli import render

SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """`2G`, `500M`, `1.5GiB`, `100000` as bytes (binary units)."""
    match = SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 2G, 500M, 100000)")
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2).lower()])


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the web app: drop songs in a browser page, play and download their stems",
        description="Serve a page (drop songs, pick a model, follow the progress, play the stems "
        "in sync, download them or a zip) and its JSON API (GET /api/models, POST /api/jobs, …; "
        "see the docs' web app page). Jobs run one at a time per device and are kept under "
        "splifft's data folder (SPLIFFT_HOME), so a restart keeps finished results and resumes "
        "queued ones. It binds 127.0.0.1; any other --host needs --token (or "
        "SPLIFFT_SERVE_TOKEN). Needs the web extra: pip install 'splifft[serve]'.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1, this machine only)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--token",
        help="require this token: clients send 'Authorization: Bearer TOKEN' or sign in on the "
        "page (default: SPLIFFT_SERVE_TOKEN; required for any --host but loopback)",
    )
    parser.add_argument(
        "--device",
        action="append",
        metavar="DEVICE",
        help="a device to run jobs on, one worker each; repeat for several GPUs (--device "
        "cuda:0 --device cuda:1) (default: auto, the GPU if there is one, else the CPU)",
    )
    parser.add_argument(
        "--max-upload",
        type=parse_size,
        default="2G",
        metavar="SIZE",
        help="largest upload, enforced while it streams (default: 2G)",
    )
    parser.add_argument(
        "--max-concurrent-uploads",
        type=int,
        default=4,
        metavar="N",
        help="uploads received at once; more are refused with 429 (default: 4)",
    )
    parser.add_argument(
        "--max-queued",
        type=int,
        default=100,
        metavar="N",
        help="jobs waiting at most; more are refused with 429 (default: 100)",
    )
    parser.add_argument(
        "--keep-days",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="delete ended jobs (their stems) after this many days (default: 7)",
    )
    parser.add_argument(
        "--max-storage",
        type=parse_size,
        default="20G",
        metavar="SIZE",
        help="when all jobs take more, the oldest ended ones are deleted (default: 20G)",
    )
    parser.add_argument(
        "--jobs-dir",
        type=Path,
        metavar="FOLDER",
        help="where jobs are kept (default: jobs/ in splifft's data folder)",
    )
    parser.add_argument(
        "--cors",
        action="append",
        metavar="ORIGIN",
        default=[],
        help="let pages from this origin call the API (e.g. https://studio.example); repeatable; "
        "default: none",
    )
    parser.set_defaults(handler=run)


def server_config(args: argparse.Namespace) -> Any:
    """The app's `ServerConfig` from the options, checked (one-line errors)."""
    from splifft.server.app import ServerConfig, is_loopback
    from splifft.server.jobs import Retention
    from splifft_core.errors import ConfigError
    from splifft_core.settings import settings

    token = args.token or settings().serve_token
    if not is_loopback(args.host) and not token:
        raise ConfigError(
            f"--host {args.host} serves other machines: give --token TOKEN (or set "
            "SPLIFFT_SERVE_TOKEN) so that only those who know it can use the server"
        )
    if token is not None and len(token) < 12:
        raise ConfigError("--token is too short: use at least 12 characters")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: not a port number")
    for name in ("max_concurrent_uploads", "max_queued"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
    if args.keep_days <= 0 or args.max_upload <= 0 or args.max_storage <= 0:
        raise ConfigError("--keep-days, --max-upload and --max-storage must be positive")
    for origin in args.cors:
        if not re.match(r"^https?://[^/\s]+$", origin):
            raise ConfigError(f"--cors {origin!r}: expected an origin like https://studio.example")
    return ServerConfig(
        host=args.host,
        port=args.port,
        token=token,
        devices=tuple(args.device or ["auto"]),
        jobs_dir=args.jobs_dir,
        max_upload=args.max_upload,
        max_concurrent_uploads=args.max_concurrent_uploads,
        max_queued=args.max_queued,
        retention=Retention(max_age_s=args.keep_days * 86400, max_bytes=args.max_storage),
        cors=tuple(args.cors),
    )


def run(args: argparse.Namespace) -> int:
    from splifft_core.errors import ConfigError

    try:
        import uvicorn

        from splifft.server.app import create_app, jobs_folder
    except ImportError as exc:
        raise ConfigError(
            f"splifft serve needs the web extra ({exc.name} is missing): "
            "pip install 'splifft[serve]'"
        ) from None
    config = server_config(args)
    from dataclasses import replace

    from splifft_core.separator import resolve_device

    devices = tuple(str(resolve_device(d)) for d in config.devices)  # a bad device fails here
    if len(set(devices)) != len(devices):
        raise ConfigError(f"--device names one device twice ({', '.join(devices)})")
    config = replace(config, devices=devices)
    shown = f"[{config.host}]" if ":" in config.host else config.host
    render.note(
        f"splifft serve: http://{shown}:{config.port}/ (jobs in {jobs_folder(config)}; "
        f"workers: {', '.join(devices)}; {'token required' if config.token else 'no token: this machine only'})"
    )
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    return 0
