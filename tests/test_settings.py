"""`splifft_core.settings`: every `SPLIFFT_*` variable, typed, read in one place."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from splifft_core import settings as settings_module
from splifft_core.errors import ConfigError
from splifft_core.settings import VARIABLES, Settings, parse, reload_settings, settings

REPO = Path(__file__).resolve().parent.parent


def test_defaults_when_unset_or_blank() -> None:
    assert parse({}) == Settings()
    assert parse({v.name: "  " for v in VARIABLES}) == Settings()
    assert Settings().onednn and Settings().malloc_tuning and not Settings().strict_plugins


def test_values_are_typed() -> None:
    got = parse(
        {
            "SPLIFFT_HOME": "~/somewhere",
            "SPLIFFT_DEFAULT_MODEL": " a-b-c ",
            "SPLIFFT_PLUGINS": "roformer, splifft-plugin-hpss,,",
            "SPLIFFT_STRICT_PLUGINS": "yes",
            "SPLIFFT_DISABLE_PLUGIN_AUTOLOAD": "TRUE",
            "SPLIFFT_ONEDNN": "0",
            "SPLIFFT_MALLOC_TUNING": "off",
        }
    )
    assert got.home == Path("~/somewhere").expanduser()
    assert got.default_model == "a-b-c"
    assert got.plugins == frozenset({"roformer", "splifft-plugin-hpss"})
    assert got.strict_plugins and got.disable_plugin_autoload
    assert not got.onednn and not got.malloc_tuning


@pytest.mark.parametrize("name", [v.name for v in VARIABLES if v.kind == "switch"])
def test_an_invalid_switch_is_one_line_naming_the_variable(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse({name: "maybe"})
    message = str(info.value)
    assert message.startswith(f"{name}='maybe'") and "\n" not in message


def test_settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPLIFFT_ONEDNN", raising=False)
    first = settings()
    assert settings() is first  # parsed once while nothing changes
    monkeypatch.setenv("SPLIFFT_ONEDNN", "0")
    assert settings().onednn is False
    monkeypatch.setenv("SPLIFFT_ONEDNN", "maybe")
    with pytest.raises(ConfigError, match="SPLIFFT_ONEDNN"):
        settings()
    monkeypatch.delenv("SPLIFFT_ONEDNN")
    assert reload_settings().onednn is True


def test_every_field_has_a_variable_and_a_doc() -> None:
    assert [v.field for v in VARIABLES] == [f.name for f in fields(Settings)]
    assert len({v.name for v in VARIABLES}) == len(VARIABLES)
    for variable in VARIABLES:
        assert variable.name.startswith("SPLIFFT_") and variable.doc.strip()
        assert variable.kind in settings_module.KIND_DOCS


def test_no_other_module_reads_splifft_variables() -> None:
    """The one reader: `SPLIFFT_*` names appear in os.environ look-ups nowhere else
    (`splifft_core.testing` sets `SPLIFFT_HOME` for its isolated runs, and restores it)."""
    pattern = re.compile(r"environ(?:\.get)?\s*[\[(]\s*[\"']SPLIFFT_|getenv\(\s*[\"']SPLIFFT_")
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("splifft_core", "splifft")
        for path in (REPO / folder).rglob("*.py")
        if path.name not in {"settings.py", "testing.py"}
        and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_docs_table_lists_every_variable() -> None:
    from tests.test_docs_build import docs_hook

    table = docs_hook().settings_table()
    for variable in VARIABLES:
        assert f"| `{variable.name}` |" in table
    for name, _ in settings_module.FOREIGN_VARIABLES:
        assert f"| `{name}` |" in table
