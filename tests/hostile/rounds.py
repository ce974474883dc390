"""What tells a leak from a loaded machine, for probes run in rounds of the same load.

A leak raises every round: what it keeps stays resident after the round and
under every later round's peak. Scheduling raises single rounds: how many
messages arrive while one is parsed, or how many answers are in flight before
the write timeout cuts a connection, moves a round's peak by tens of MB when
other processes hold the cores (docs/hardening.md has the measured peaks). So
each round has a peak of its own (`wire.reset_peak_rss`), and
- the settled memory (after the round, once the heap trimmer of
  kv.malloc_tuning ran) of the round that kept least must be within
  SETTLED_GROWTH of the idle memory: a leak of a tenth of it per round fails,
  whichever round was slow to give memory back (one in a while is, on a
  loaded machine);
- the last round's peak must be within PEAK_GROWTH of the lowest earlier one:
  a leak of an eighth of a round's peak per round fails it.
"""

from __future__ import annotations

import time

from tests.hostile.wire import rss_mb
from tests.servers import KvServer

ROUNDS = 3
PEAK_GROWTH = 1.25
SETTLED_GROWTH = 1.10
SETTLE_SECONDS = 30.0


def settled_rss_mb(server: KvServer, at_most: float) -> float:
    """The resident memory once it is `at_most` MB or less, or after SETTLE_SECONDS.

    Polled: the heap trimmer returns what a round freed within a fraction of
    a second, but on a loaded machine it may run late.
    """
    deadline = time.monotonic() + SETTLE_SECONDS
    while (resident := rss_mb(server.process.pid)) > at_most and time.monotonic() < deadline:
        time.sleep(0.1)
    return resident


def assert_no_leak(peaks: list[float], settled: list[float], idle: float, bound_mb: float) -> None:
    """Every round's peak under `bound_mb`, and no growth a leak would make (module docstring)."""
    shown = f"peaks {[round(mb) for mb in peaks]}, settled {[round(mb) for mb in settled]}"
    assert max(peaks) < bound_mb, f"{shown}, idle {idle:.0f} MB"
    assert peaks[-1] <= min(peaks[:-1]) * PEAK_GROWTH, shown
    assert min(settled) <= idle * SETTLED_GROWTH, f"{shown}, idle {idle:.0f} MB"
