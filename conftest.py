"""Test session setup shared by core and plugin tests: hermetic plugins and user dirs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.hub_server import StandInHub

# Entry-point autoload is off for the whole session: tests register the plugins they need.
os.environ["SPLIFFT_DISABLE_PLUGIN_AUTOLOAD"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own SPLIFFT_HOME and HF cache, and a fresh plugin host."""
    from splifft_core.plugins import set_host

    home = tmp_path_factory.mktemp("splifft-home")
    monkeypatch.setenv("SPLIFFT_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hf" / "hub"))
    monkeypatch.delenv("SPLIFFT_DEFAULT_MODEL", raising=False)
    monkeypatch.delenv("SPLIFFT_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("SPLIFFT_PLUGINS", raising=False)
    set_host(None)
    yield home
    set_host(None)


PluginHostFactory = Callable[..., "object"]


@pytest.fixture
def plugin_host() -> Callable[..., object]:
    """`plugin_host(module, ...)` installs a host with exactly these plugin modules."""
    from splifft_core.plugins import PluginHost, set_host

    def make(*modules: ModuleType, strict: bool = False) -> PluginHost:
        host = PluginHost(strict=strict)
        for module in modules:
            host.register(module, module.__name__.rsplit(".", 1)[-1])
        set_host(host)
        return host

    return make


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInHub]:
    """A stand-in Hugging Face Hub on 127.0.0.1 (`tests.hub_server.StandInHub`), as HF_ENDPOINT."""
    from tests.hub_server import running_hub

    try:  # huggingface_hub fetches an agent list from its import-time endpoint once a process
        import huggingface_hub.utils._detect_agent as detect_agent

        monkeypatch.setattr(detect_agent, "_registry", {"standardEnvVars": [], "harnesses": {}})
    except (ImportError, AttributeError):
        pass
    with running_hub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server
