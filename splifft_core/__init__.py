"""splifft's core: semantic types, the plugin host and the chunked inference engine.

Importing this package is light: torch is imported only when a model is built or run.
"""

from __future__ import annotations

__version__ = "0.1.0"
