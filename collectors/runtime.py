"""Process tuning for the paths that analyse streams in bulk (``iec62379 probe``, the
benchmarks).

The analysis works on whole batches with numpy: every feed call allocates and frees arrays of
tens to hundreds of kilobytes. With glibc's defaults, blocks above the (dynamic) mmap threshold
get pages of their own and the top of the heap is trimmed back to the system when it is freed,
so the next batch takes the same page faults and zeroing again (measured on the pcap benchmark:
about 7 % of the analysis time). ``keep_freed_memory`` raises the mmap threshold and the trim
threshold, so that freed arrays are reused. The price is that the process keeps its peak heap
(tens of megabytes for the probe); the SNMP agent, which has a memory target of its own, does
not call it.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit (HEAP_MAX / 2)
TRIM_THRESHOLD = 256 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed memory for reuse; False where that is not possible
    (another C library, or glibc refused the values)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
