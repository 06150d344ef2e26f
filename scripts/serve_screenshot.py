"""Take the docs' screenshot of `splifft serve` (docs/img/serve.png) in headless Chromium.

    python scripts/serve_screenshot.py [--out docs/img/serve.png]

The server runs with the installed plugins and a temporary jobs folder; the example song is
separated with the weightless HPSS model, the player started and one stem soloed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from splifft.server.app import ServerConfig, create_app  # noqa: E402
from tests.serve_browser import (  # noqa: E402
    browser_page,
    running_server,
    separate_in_page,
    wait_until_playable,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "serve.png")
    parser.add_argument("--model", default="hpss-fitzgerald-median")
    args = parser.parse_args()
    song = REPO / "examples" / "song" / "mixture.flac"
    with tempfile.TemporaryDirectory() as folder:
        named = Path(folder) / "Example song.flac"
        named.write_bytes(song.read_bytes())
        app = create_app(ServerConfig(jobs_dir=Path(folder) / "jobs", devices=("cpu",)))
        with running_server(app) as url, browser_page(1200, 820) as (page, _):
            separate_in_page(page, url, [str(named)], args.model)
            card = wait_until_playable(page)
            card.query_selector(".play").click()
            page.wait_for_function(
                "card => card.querySelector('audio.stem-audio').currentTime > 2", arg=card
            )
            card.query_selector(".stem .solo").click()
            page.fill("#model-search", "")
            page.wait_for_timeout(300)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
