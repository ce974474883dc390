"""bench/watch.py runs end to end with a few watchers and reports every figure."""

from __future__ import annotations

import asyncio

from bench.watch import measure, table


async def test_the_watch_bench_measures_every_event() -> None:
    figures = await asyncio.to_thread(measure, 5, 40, 4)
    assert figures["events"] == 5 * 40
    assert figures["missing"] == 0
    assert figures["idle_writes_per_s"] > 0
    assert figures["loaded_writes_per_s"] > 0
    # Not bounded below by 0: when the writer waits for a core, a watcher can read an event
    # before the writer reads its put's acknowledgement.
    assert figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert "| 5 | 40 |" in table(figures)
