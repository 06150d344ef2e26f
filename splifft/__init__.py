"""splifft: music source separation with a zoo of community models.

```python
import splifft

separator = splifft.load("bs_roformer-lu-viperx")
stems = separator.separate(audio, sample_rate=44100)  # {"vocals": tensor, "instrum": tensor}
pitch = splifft.load_analyzer("pesto-riou-mir1k_g7").analyze(audio, sample_rate=44100)
both = splifft.load_ensemble(["bs_roformer-lu-viperx", "mel_roformer-wang-kim_vocals"], "avg_fft")
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from splifft_core import __version__

if TYPE_CHECKING:
    from splifft_core.analyzer import Analyzer
    from splifft_core.api import load, load_analyzer, load_ensemble
    from splifft_core.separator import Separator

__all__ = ["Analyzer", "Separator", "__version__", "load", "load_analyzer", "load_ensemble"]


def __getattr__(name: str) -> Any:
    # Lazy: `import splifft` must not import torch.
    if name == "load":
        from splifft_core.api import load

        return load
    if name == "load_ensemble":
        from splifft_core.api import load_ensemble

        return load_ensemble
    if name == "load_analyzer":
        from splifft_core.api import load_analyzer

        return load_analyzer
    if name == "Analyzer":
        from splifft_core.analyzer import Analyzer

        return Analyzer
    if name == "Separator":
        from splifft_core.separator import Separator

        return Separator
    raise AttributeError(f"module 'splifft' has no attribute {name!r}")
