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
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD = 1 << 30

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Tune glibc malloc once per process; `SPLIFFT_MALLOC_TUNING=0` turns this off.

    Returns whether the tuning is in effect (false off glibc, e.g. macOS, Windows, musl).
    """
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("SPLIFFT_MALLOC_TUNING", "1").strip() == "0" or sys.platform != "linux":
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
