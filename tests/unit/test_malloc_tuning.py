"""The allocator settings and the heap trimmer of kv-server (kv.malloc_tuning)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from kv.malloc_tuning import HeapTrimmer, tune_allocator

MB = 1024 * 1024


def test_the_settings_apply_on_glibc() -> None:
    # This project's images and CI run on glibc 2.36: there everything must take.
    assert tune_allocator()
    trimmer = HeapTrimmer()
    assert trimmer.start()
    trimmer.stop()


def trims_after(readings: list[int]) -> int:
    """How often the trimmer trims when the freed memory held reads `readings`, one per check."""
    used_up = threading.Event()
    values: Iterator[int] = iter(readings)

    def free_bytes() -> int:
        try:
            return next(values)
        except StopIteration:
            used_up.set()
            return readings[-1]

    trims: list[int] = []
    trimmer = HeapTrimmer(freed=16 * MB, every=0.001)
    thread = threading.Thread(target=trimmer._run, args=(free_bytes, trims.append))
    thread.start()
    try:
        assert used_up.wait(30)
    finally:
        trimmer.stop()
        thread.join()
    return len(trims)


def test_a_process_that_frees_little_is_never_trimmed() -> None:
    assert trims_after([1 * MB, 10 * MB, 12 * MB, 5 * MB, 17 * MB]) == 0


def test_each_freed_threshold_is_trimmed_once() -> None:
    # 1 MB at start. 20 is 16 over it: trim (say it stays 20); 30 is not 16
    # over 20; the heaps reuse down to 4, and 25 is 16 over that: trim again.
    readings = [1 * MB, 20 * MB, 20 * MB, 30 * MB, 4 * MB, 25 * MB, 25 * MB, 25 * MB]
    assert trims_after(readings) == 2
