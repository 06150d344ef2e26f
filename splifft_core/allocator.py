"""glibc malloc tuning for chunked inference.

Every chunk allocates and frees the same large buffers (STFT, attention, activations). glibc's
defaults return such blocks to the OS at once (`mmap` above 128 KiB–32 MiB, heap trimming above
128 KiB), so each chunk pays page faults and zeroing again; measured here that is 15–30 % of
the CPU time of a chunked separation. Serving every block from the heap (`M_MMAP_MAX = 0`; the
mmap threshold cannot be raised past 32 MiB through `mallopt`, and a large model's activations
are bigger) and trimming only above 1 GiB keeps the memory for reuse. The peak stays what one
chunk needs, so memory is still bounded by chunk size and batch; glibc still falls back to
`mmap` when the heap cannot grow.
"""

from __future__ import annotations

import ctypes
import sys

from splifft_core.settings import settings

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD = 1 << 30

_done: bool | None = None


def keep_freed_memory(enabled: bool | None = None) -> bool:
    """Tune glibc malloc, once per process (it cannot be undone); returns whether it is in effect.

    `enabled`: `None` follows `SPLIFFT_MALLOC_TUNING` (on by default); `False` does nothing.
    `Separator.from_spec(tune_malloc=…)` and `splifft_core.api.load(tune_malloc=…)` call this.
    The tuning is never in effect off glibc (macOS, Windows, musl).
    """
    global _done
    if enabled is None:
        enabled = settings().malloc_tuning
    if _done is not None or not enabled:
        return bool(_done)
    _done = False
    if sys.platform != "linux":
        return _done
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return _done
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
