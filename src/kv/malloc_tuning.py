"""The C allocator's settings that keep the server's memory bounded by its load.

- The mmap threshold. glibc serves a large allocation (a 1 MiB body, a
  protobuf arena block) with its own mmap, returned to the system when freed,
  but only while the size is under its mmap threshold, and it raises that
  threshold to the size of every such block freed (up to 32 MiB). After the
  first burst of large requests, every later one then comes from the heap,
  where freed memory fragments and stays: each burst of the same load left
  the server larger than the last. Pinning the threshold turns that
  adjustment off.
- The number of malloc arenas. grpc's core receives messages on threads of
  its own, and glibc gives each thread that meets a locked arena a new one
  (up to 8 per core), each a heap of its own whose freed memory is returned
  only from its top: the retained memory grew with the number of arenas.
  Two are enough for this process (the event loop's thread and grpc's).
- Trimming (`HeapTrimmer`). Small blocks (grpc's slices of a message as it
  arrives, Python's objects) are freed into the heaps, not returned: a burst
  of large gRPC messages would leave the process more resident than before
  it, by a different amount each time, so each round of the same load would
  start from a different floor. `malloc_trim` returns every free page of
  every arena.

docs/hardening.md has the figures.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 256 * 1024
ARENA_MAX = 2
# Trim once the process holds this many freed bytes more than after the last
# trim; checked this often (/proc/self/statm and glibc's mallinfo2, a few
# microseconds).
TRIM_FREED_BYTES = 4 * 1024 * 1024
TRIM_CHECK_SECONDS = 0.2


class _MallInfo2(ctypes.Structure):
    """glibc's `struct mallinfo2` (malloc.h, glibc 2.33 and later)."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",  # free bytes in the heaps
            "keepcost",
        )
    ]


def _libc() -> Any:
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def tune_allocator(threshold: int = MMAP_THRESHOLD_BYTES, arenas: int = ARENA_MAX) -> bool:
    """Pin the mmap threshold and cap the arenas (call before threads start); False if not glibc."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    pinned = bool(libc.mallopt(M_MMAP_THRESHOLD, threshold))
    capped = bool(libc.mallopt(M_ARENA_MAX, arenas))
    return pinned and capped


class HeapTrimmer:
    """A daemon thread that calls `malloc_trim(0)` whenever the process holds more freed memory.

    Freed memory held: the resident memory less what the heaps have handed
    out (glibc's mallinfo2), i.e. free pages the heaps keep, plus what
    malloc does not manage (code, Python's own arenas), which stays about
    level. A trim happens when that has grown by `freed` bytes over what it
    was after the previous trim, and that figure follows it down. So a burst
    of large requests is trimmed as it frees its memory and once more when
    it ends, and a process that frees nothing is never trimmed. The trim
    runs off the event loop: it walks every arena, which takes time in
    proportion to the memory they hold.
    """

    def __init__(self, freed: int = TRIM_FREED_BYTES, every: float = TRIM_CHECK_SECONDS) -> None:
        self._freed = freed
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start trimming; False (and nothing started) without glibc 2.33 or later, or /proc."""
        libc = _libc()
        if (
            libc is None
            or not hasattr(libc, "malloc_trim")
            or not hasattr(libc, "mallinfo2")
            or _resident_bytes() is None
        ):
            return False
        libc.mallinfo2.restype = _MallInfo2

        def freed_resident_bytes() -> int:
            info = libc.mallinfo2()
            return (_resident_bytes() or 0) - int(info.uordblks) - int(info.hblkhd)

        self._thread = threading.Thread(
            target=self._run,
            args=(freed_resident_bytes, libc.malloc_trim),
            name="heap-trimmer",
            daemon=True,
        )
        self._thread.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self, freed: Callable[[], int], malloc_trim: Callable[[int], object]) -> None:
        floor = freed()
        while not self._stop.wait(self._every):
            now = freed()
            if now > floor + self._freed:
                malloc_trim(0)
                floor = freed()
            else:
                floor = min(floor, now)


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _resident_bytes() -> int | None:
    """This process's resident memory (/proc/self/statm); None where there is none."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:
        return None
    return int(fields[1]) * _PAGE_BYTES
