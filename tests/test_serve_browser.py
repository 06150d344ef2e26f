"""The web app in a real headless Chromium (Debian's `chromium`, driven by Playwright): drop a
file, follow it to the end, play the stems in sync, solo one, download the zip, see a bad file's
error in the page. `.ci/run` installs chromium and sets `REQUIRE_BROWSER_TESTS=1`, so that
in CI a missing browser fails the test instead of skipping it."""

from __future__ import annotations

import base64
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import soundfile as sf

from splifft.server.app import ServerConfig, create_app
from splifft_core.plugins import PluginHost
from tests.serve_browser import browser_page, chromium_path, running_server, wait_until_playable

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.skipif(
    chromium_path() is None and os.environ.get("REQUIRE_BROWSER_TESTS") != "1",
    reason="no chromium on PATH (apt-get install chromium)",
)
MODEL = "hpss-fitzgerald-median"


def test_the_page_separates_plays_and_downloads(
    plugin_host: Callable[..., PluginHost], tmp_path: Path
) -> None:
    import splifft_plugin_hpss

    plugin_host(splifft_plugin_hpss)
    rate, seconds = 44100, 3.0
    t = np.arange(int(rate * seconds)) / rate
    clicks = (np.sin(2 * np.pi * 2 * t) > 0.995).astype(np.float64)
    song = np.stack([0.3 * np.sin(2 * np.pi * 220 * t) + 0.5 * clicks] * 2, axis=1)
    good = tmp_path / "Take 1.flac"
    sf.write(good, song.astype(np.float32), rate)
    bad = tmp_path / "notes.mp3"
    bad.write_text("not audio, just words " * 50)
    config = ServerConfig(jobs_dir=tmp_path / "jobs", devices=("cpu",))
    with browser_page() as (page, errors):
        with running_server(create_app(config)) as url:
            page.goto(url)
            page.wait_for_selector("#model-list option", state="attached")
            page.fill("#model-search", MODEL)
            drop(page, [good, bad])  # dropped on the page, as a user drags files from a folder
            page.click("#start")
            # the bad file: its own card says what is wrong, by name
            rejected = page.wait_for_selector(".job[data-state=rejected]", timeout=60_000)
            assert rejected.query_selector(".job-error").text_content().startswith("notes.mp3: ")
            card = wait_until_playable(page)
            assert card.query_selector(".job-name").text_content() == "Take 1.flac"
            audio = "card => [...card.querySelectorAll('audio.stem-audio')]"
            stems = page.evaluate(f"{audio}.map(a => a.dataset.stem)", card)
            assert stems == ["harmonic", "percussive"]
            durations = page.evaluate(f"{audio}.map(a => a.duration)", card)
            assert durations == pytest.approx([seconds, seconds], abs=0.05)
            # play: every stem advances, together
            card.query_selector(".play").click()
            page.wait_for_function(
                "card => card.querySelector('audio.stem-audio').currentTime > 0.5", arg=card
            )
            times = page.evaluate(f"{audio}.map(a => a.currentTime)", card)
            assert min(times) > 0.3 and max(times) - min(times) < 0.15
            assert card.query_selector(".play").text_content() == "Pause"
            # solo the first stem: the others are muted; seek moves every stem
            card.query_selector(".stem .solo").click()
            assert page.evaluate(f"{audio}.map(a => a.muted)", card) == [False, True]
            card.query_selector(".play").click()
            card.query_selector(".seek").fill("2")
            times = page.evaluate(f"{audio}.map(a => a.currentTime)", card)
            assert times == pytest.approx([2.0, 2.0], abs=0.05)
            # the zip through the page's own link
            with page.expect_download() as download:
                card.query_selector(".zip").click()
            archive = tmp_path / "stems.zip"
            download.value.save_as(archive)
            assert download.value.suggested_filename == "Take 1.zip"
            with zipfile.ZipFile(archive) as z:
                assert z.namelist() == ["Take 1/harmonic.flac", "Take 1/percussive.flac"]
        # a restarted server (another process would do the same: the jobs are on disk) shows
        # the finished job again, ready to play
        with running_server(create_app(config)) as url:
            page.goto(url)
            again = wait_until_playable(page)
            assert again.query_selector(".job-name").text_content() == "Take 1.flac"
            assert len(page.query_selector_all(".job")) == 1
        assert errors == []


def drop(page: Page, files: list[Path]) -> None:
    """Drop `files` on the page's drop zone (a DataTransfer built in the page, as a drag has)."""
    payload = [{"name": f.name, "data": base64.b64encode(f.read_bytes()).decode()} for f in files]
    page.evaluate(
        """files => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name));
            }
            const zone = document.querySelector('#drop');
            for (const type of ['dragenter', 'dragover', 'drop']) {
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
            }
        }""",
        payload,
    )
