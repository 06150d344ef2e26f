"""splifft: music source separation with a zoo of community models.

```python
import splifft

separator = splifft.load("bs_roformer-lu-viperx")
stems = separator.separate(audio, sample_rate=44100)  # {"vocals": tensor, "instrum": tensor}
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from splifft_core import __version__

if TYPE_CHECKING:
    from splifft_core.api import load
    from splifft_core.separator import Separator

__all__ = ["Separator", "__version__", "load"]


def __getattr__(name: str) -> Any:
    # Lazy: `import splifft` must not import torch.
    if name == "load":
        from splifft_core.api import load

        return load
    if name == "Separator":
        from splifft_core.separator import Separator

        return Separator
    raise AttributeError(f"module 'splifft' has no attribute {name!r}")
