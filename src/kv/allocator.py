"""The C allocator's one setting that keeps the server's memory bounded by its load.

glibc serves a large allocation (a 1 MiB body, a protobuf arena block) with
its own mmap, returned to the system when freed, but only while the size is
under its mmap threshold, and it raises that threshold to the size of every
such block freed (up to 32 MiB). After the first burst of large requests,
every later one then comes from the heap, where freed memory fragments and
stays: each burst of the same load left the server larger than the last
(docs/hardening.md has the figures). Pinning the threshold turns that
adjustment off.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD_BYTES = 256 * 1024


def pin_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Serve allocations of `threshold` bytes or more by mmap from now on; False if not glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))


def _experiment_trim() -> None:  # EXPERIMENT, not to be committed
    import os
    import threading
    import time

    period = os.environ.get("KV_EXP_TRIM_MS")
    if not period:
        return
    trim = ctypes.CDLL(None).malloc_trim

    def loop() -> None:
        while True:
            time.sleep(int(period) / 1000)
            trim(0)

    threading.Thread(target=loop, daemon=True).start()


_experiment_trim()
