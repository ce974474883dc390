"""InMemoryStore: the reference store, entries in a sorted dict; gone when the process ends."""

from __future__ import annotations

import threading

from sortedcontainers import SortedDict

from kv.domain import Decision, Entry, Write, Written


class InMemoryStore:
    """A `Store` that keeps every `Entry` as it is, in key order, in this process's memory.

    The reference implementation of the port: a write is decided and applied
    under one lock with nothing else in between (no await, no I/O), and is
    durable (for as long as the process lives) and visible when it returns.
    Entries are kept in a `SortedDict` so that a range of keys is reached in
    O(log n).
    """

    def __init__(self) -> None:
        self._entries: SortedDict[str, Entry] = SortedDict()
        self._revision = 0
        self._lock = threading.Lock()

    @property
    def revision(self) -> int:
        """The revision of the last change."""
        return self._revision

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def get(self, key: str) -> Entry | None:
        return self._entries.get(key)

    async def write(self, write: Write) -> Written:
        return self.apply(write)

    def apply(self, write: Write) -> Written:
        """Carry out `write` at once (what `write` does, for callers that cannot await)."""
        with self._lock:
            current = self._entries.get(write.key)
            decision = write.decide(current)
            if decision is Decision.UNCHANGED:
                return Written.apply(write, current, decision, self._revision)
            self._revision += 1
            written = Written.apply(write, current, decision, self._revision)
            if written.entry is None:
                del self._entries[write.key]
            else:
                self._entries[write.key] = written.entry
            return written

    async def check(self) -> None:
        return None
