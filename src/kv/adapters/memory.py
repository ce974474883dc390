"""InMemoryStore: the reference store, entries in key order in memory; gone with the process."""

from __future__ import annotations

import threading
import time

from kv.adapters.history import HistoryLimits
from kv.adapters.keydir import SWEEP_INTERVAL_SECONDS
from kv.adapters.local import LocalStore
from kv.domain import Change, Decision, Entry, Write, Written
from kv.domain.ttl import Clock


class InMemoryStore(LocalStore):
    """A `Store` that keeps every `Entry` as it is, in key order, in this process's memory.

    The reference implementation of the port: a write is decided and applied
    under one lock with nothing else in between (no await, no I/O), and is
    visible when it returns. An entry whose ttl has passed is hidden from
    that moment; it is removed, at a revision of its own, by the first write
    to its key or by the expiry sweeper, whichever comes first. Reads, the
    change feed and the sweep are `LocalStore`'s (its docstring names the
    arguments).
    """

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        sweep_interval: float = SWEEP_INTERVAL_SECONDS,
        history: HistoryLimits | None = None,
    ) -> None:
        # A threading lock: `apply` may be called from any thread.
        super().__init__(
            clock=clock, sweep_interval=sweep_interval, history=history, lock=threading.Lock()
        )

    async def open(self) -> None:
        return None

    async def write(self, write: Write) -> Written:
        return self.apply(write)

    def apply(self, write: Write) -> Written:
        """Carry out `write` at once (what `write` does, for callers that cannot await)."""
        with self._lock:
            now = self._clock()
            current = self._latest(write.key)
            if current is not None and current.expired(now):
                self._remove_expired(current)
                current = None
            decision = write.decide(current)
            if decision is Decision.UNCHANGED:
                return Written.apply(write, current, decision, self._revision, now)
            self._revision += 1
            written = Written.apply(write, current, decision, self._revision, now)
            if written.entry is None:
                self._entries.remove(write.key)
                self._history.record(Change.delete(write.key, self._revision))
            else:
                self._entries.set(written.entry)
                self._history.record(Change.put(written.entry, write.value_json))
            self._track_expiry(write, current, written)
        return written

    async def check(self) -> None:
        return None

    def _remove_expired(self, expired: Entry) -> None:
        change = self._take_removal(expired)
        self._entries.remove(expired.key)
        self._history.record(change)
