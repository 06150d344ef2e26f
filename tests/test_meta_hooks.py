"""Meta: every hook is documented with its exact signature, and some test calls it."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from splifft_core import hookspecs as hookspecs_module
from tests.helpers import REPO, docs_hook

HOOK_REFERENCE = REPO / "docs" / "plugins" / "hooks.md"


def hookspecs() -> dict[str, Callable[..., Any]]:
    marker = f"{hookspecs_module.PROJECT_NAME}_spec"
    return {
        name: fn
        for name, fn in vars(hookspecs_module).items()
        if inspect.isfunction(fn) and hasattr(fn, marker)
    }


HOOKS = sorted(hookspecs())


def test_hookspecs_are_found() -> None:
    assert {"splifft_architectures", "splifft_manifests"} <= set(HOOKS)
    assert sorted(docs_hook().hookspecs()) == HOOKS


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented_with_its_exact_signature(name: str) -> None:
    fn = hookspecs()[name]
    # annotations are strings (postponed evaluation): the signature as written in the source
    signature = f"def {name}{inspect.signature(fn)}".replace("'", "")
    page = HOOK_REFERENCE.read_text(encoding="utf-8")
    assert f"## `{name}`" in page, f"{HOOK_REFERENCE.name} has no section for {name}"
    assert f"```python\n{signature}:\n```" in page, (
        f"{HOOK_REFERENCE.name} must show `{signature}:` in its {name} section"
    )
    assert docs_hook().format_signature(name, fn) == signature


def test_hook_reference_documents_no_unknown_hook() -> None:
    page = HOOK_REFERENCE.read_text(encoding="utf-8")
    assert docs_hook().check_hook_reference(page) == []
    sections = re.findall(r"^## `(splifft_\w+)`", page, re.MULTILINE)
    assert sorted(sections) == HOOKS


def test_hook_reference_check_catches_drift() -> None:
    page = HOOK_REFERENCE.read_text(encoding="utf-8")
    drifted = page.replace(
        "def splifft_manifests() -> Sequence[dict[str, Any] | Path]:",
        "def splifft_manifests() -> list[dict[str, Any]]:",
    )
    assert any("splifft_manifests" in p for p in docs_hook().check_hook_reference(drifted))
    extra = page + "\n```python\ndef splifft_gone() -> None:\n```\n"
    assert any("splifft_gone" in p for p in docs_hook().check_hook_reference(extra))


def files_of_tests() -> list[Path]:
    """Every test module of the core and of the first-party plugins, but this one."""
    files = [*(REPO / "tests").rglob("test_*.py"), *(REPO / "plugins").glob("*/tests/**/*.py")]
    return sorted(p for p in files if p.resolve() != Path(__file__).resolve())


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_called_by_a_test(name: str) -> None:
    call = re.compile(rf"(?<!def )\b{name}\(")
    callers = [p for p in files_of_tests() if call.search(p.read_text(encoding="utf-8"))]
    assert callers, f"no test calls {name}(); add one that calls it and checks what it returns"
