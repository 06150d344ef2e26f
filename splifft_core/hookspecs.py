"""The hooks a splifft plugin may implement.

A plugin is a module registered under the entry-point group `splifft`; it implements any of these
hooks with the `hookimpl` marker. First-party plugins load through exactly the same path.

```python
from splifft_core.hookspecs import hookimpl

@hookimpl
def splifft_architectures():
    return [ArchitectureSpec(name="my_arch", params_model=MyParams, model_factory="my_pkg.net:build")]
```

Hook modules must not import torch at import time: listing plugins stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from splifft_core.models import ArchitectureSpec

PROJECT_NAME = "splifft"
"""The pluggy project name and the entry-point group."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def splifft_architectures() -> Sequence[ArchitectureSpec]:  # type: ignore[empty-body]
    """Return the architectures this plugin provides.

    Each is an [ArchitectureSpec][splifft_core.models.ArchitectureSpec]: its name (the manifest's
    `architecture`), its pydantic params model, its archetype and the import paths of its model
    factory and, optionally, checkpoint key transform and loader, stem selection and MSST import.
    Two plugins providing one name is an error reported for the later one.
    """


@hookspec
def splifft_manifests() -> Sequence[dict[str, Any] | Path]:  # type: ignore[empty-body]
    """Return model manifests this plugin contributes.

    Each item is a manifest as a dict, or the path of a JSON file holding one manifest (or a list
    of them). They rank between user-local manifests and the built-in registry.
    """
