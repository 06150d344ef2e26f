"""`splifft batch --ray` on a local Ray instance: the same files as `splifft run`; a job killed
midway finishes the rest when run again, without redoing the tracks it had finished.

The actors load plugins through entry points, so these tests use the installed, weightless
HPSS plugin (`SPLIFFT_PLUGINS` allows it alone); the rest of the session keeps autoload off."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from splifft.batch import separate_many
from splifft.cli import main
from splifft_core.plugins import PluginHost
from tests.helpers import REPO
from tests.test_batch import files_of, tone

ray = pytest.importorskip("ray")
HPSS = "hpss-fitzgerald-median"


def worker_env(home: Path) -> dict[str, str]:
    """What Ray's workers (and a batch in a subprocess) need: the HPSS plugin, a home."""
    return {
        "SPLIFFT_DISABLE_PLUGIN_AUTOLOAD": "0",
        "SPLIFFT_PLUGINS": "splifft-plugin-hpss",
        "SPLIFFT_HOME": str(home),
        "PYTHONPATH": str(REPO),
    }


def make_songs(folder: Path, count: int, seconds: float) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        rng = np.random.default_rng(i)
        audio = tone(seconds, 44100, 2, 200.0 + 37 * i)
        audio[rng.integers(0, len(audio), 30)] += 0.5  # clicks: something percussive
        sf.write(folder / f"song {i:02d}.flac", audio, 44100)


def test_ray_gives_the_files_of_splifft_run(
    plugin_host: Callable[..., PluginHost], tmp_path: Path
) -> None:
    import splifft_plugin_hpss

    plugin_host(splifft_plugin_hpss)
    inputs = tmp_path / "in"
    make_songs(inputs, 4, 1.5)
    assert main(["run", str(inputs), "-m", HPSS, "-o", str(tmp_path / "run"), "-q"]) == 0
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": worker_env(tmp_path / "home")},
    )
    try:
        report = separate_many([inputs], tmp_path / "ray", model=HPSS, ray=True, workers=2)
    finally:
        ray.shutdown()
    assert (report.done, report.failed) == (4, [])
    expected = files_of(tmp_path / "run")
    assert len(expected) == 8 and files_of(tmp_path / "ray") == expected


def test_a_killed_ray_job_finishes_the_rest_when_run_again(tmp_path: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    make_songs(inputs, 14, 2.0)
    env = {**os.environ, **worker_env(tmp_path / "home")}
    command = [sys.executable, "-m", "splifft", "batch", str(inputs), "-o", str(out)]
    command += ["-m", HPSS, "--ray", "--workers", "1", "-q"]
    records = out / ".splifft-batch"
    first = subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 240
    while not (records.is_dir() and len(list(records.glob("*.json"))) >= 3):
        if first.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the first run ended early: {first.stderr.read()!r}")  # type: ignore[union-attr]
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)  # the driver, and whatever Ray started with it
    first.wait()
    kept = {p: p.stat().st_mtime_ns for p in records.glob("*.json")}
    assert 3 <= len(kept) < 14
    done_before = [json.loads(p.read_text()) for p in kept]
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"{14 - len(kept)} done, {len(kept)} skipped (done before), 0 failed" in second.stderr
    # the tracks finished before the kill were not redone: their records and stems are untouched
    for path, stamp in kept.items():
        assert path.stat().st_mtime_ns == stamp
    for record in done_before:
        for output in record["outputs"]:
            assert (out / output["path"]).stat().st_size == output["size"]
    manifest = json.loads((out / "splifft-batch.json").read_text())
    assert [t["state"] for t in manifest["tracks"]] == ["done"] * 14
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
