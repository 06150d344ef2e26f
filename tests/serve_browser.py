"""A real `splifft serve` on 127.0.0.1 and Debian's Chromium driven by Playwright, shared by the
browser test and the docs' screenshot script (`scripts/serve_screenshot.py`)."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the machine has no network: no background calls
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def running_server(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn on a free port of 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(30)


@contextlib.contextmanager
def browser_page(width: int = 1280, height: int = 900) -> Iterator[tuple[Any, list[str]]]:
    """A fresh page in headless Chromium, and the list its script errors are collected in."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("no chromium on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, accept_downloads=True
            )
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, errors
        finally:
            browser.close()


def separate_in_page(page: Any, url: str, files: list[str], model_search: str) -> None:
    """Open the page, pick `files` and the first model matching `model_search`, start."""
    page.goto(url)
    page.wait_for_selector("#model-list option", state="attached")
    page.fill("#model-search", model_search)
    page.set_input_files("#file-input", files)
    page.click("#start")


def wait_until_playable(page: Any, timeout_ms: float = 120_000) -> Any:
    """The first finished job's card, once every stem's audio element has loaded its metadata."""
    card = page.wait_for_selector(".job[data-state=done]", timeout=timeout_ms)
    page.wait_for_function(
        "card => [...card.querySelectorAll('audio.stem-audio')].every(a => a.readyState >= 1)",
        arg=card,
        timeout=timeout_ms,
    )
    return card
