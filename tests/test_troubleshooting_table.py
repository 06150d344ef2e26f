"""docs/troubleshooting.md's table of hostile cases names tests that exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_hostile_case_names_existing_tests() -> None:
    page = (REPO / "docs" / "troubleshooting.md").read_text()
    table = page.split("## Hostile cases the test suite covers", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) - 1 >= 22  # the header, then one row per case
    for row in rows[1:]:
        tests_cell = row.rstrip().rstrip("|").rsplit("|", 1)[-1]
        current: str | None = None
        names = re.findall(r"`([^`]+)`", tests_cell)
        assert names, row
        for ref in names:
            if not ref.startswith("::"):
                current, _, ref = ref.partition("::")
                ref = "::" + ref
            assert current is not None, row
            source = (REPO / current).read_text()
            assert f"def {ref[2:]}(" in source, f"{current}{ref} (row: {row[:60]}…)"
