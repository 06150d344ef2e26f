"""The README's test command is exactly what CI runs."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    blocks = [b.split("```")[0].strip() for b in readme.split("```bash\n")[1:]]
    setup = [b for b in blocks if b.startswith("python3 -m venv")]
    assert len(setup) == 2, "the README has exactly two setup commands"
    assert setup[1] in ci.splitlines()
    assert "pytest" in setup[1] and "mypy" in setup[1] and "ruff" in setup[1]
    assert "splifft run examples/song/mixture.flac" in setup[0]
    assert (REPO / "examples" / "song" / "mixture.flac").is_file()
    for plugin in ("splifft-plugin-spleeter", "splifft-plugin-hpss"):  # the app's dependencies
        assert f"-e ./plugins/{plugin}" in setup[0]
