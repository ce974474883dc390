"""InMemoryStore: the reference store, entries in key order in memory; gone with the process."""

from __future__ import annotations

import threading
import time

from kv.adapters.history import ChangeHistory, HistoryLimits, HistorySubscription
from kv.adapters.keydir import SWEEP_INTERVAL_SECONDS, ExpiryIndex, ExpirySweeper, KeyDirectory
from kv.domain import Change, Decision, Entry, Write, Written
from kv.domain.model import Listing
from kv.domain.ttl import Clock


class InMemoryStore:
    """A `Store` that keeps every `Entry` as it is, in key order, in this process's memory.

    The reference implementation of the port: a write is decided and applied
    under one lock with nothing else in between (no await, no I/O), and is
    visible when it returns. An entry whose ttl has passed is hidden from
    that moment; it is removed, at a revision of its own, by the first write
    to its key or by the expiry sweeper, whichever comes first.

    `clock`: the time in Unix seconds (tests pass their own, so that nothing sleeps).
    `history`: how many recent changes the change feed keeps for watchers.
    """

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        sweep_interval: float = SWEEP_INTERVAL_SECONDS,
        history: HistoryLimits | None = None,
    ) -> None:
        self._clock = clock
        self._entries = KeyDirectory()
        self._expiry = ExpiryIndex()
        self._revision = 0
        self._lock = threading.Lock()
        self._history = ChangeHistory(history)
        self._sweeper = ExpirySweeper(
            self._expire_due, self._expiry.next_due, clock, sweep_interval
        )

    @property
    def revision(self) -> int:
        """The revision of the last change."""
        return self._revision

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        """Stop the expiry sweeper and end every watcher."""
        await self._sweeper.stop()
        self._history.close()

    async def subscribe(self, prefix: str, from_revision: int | None) -> HistorySubscription:
        """Follow the changes under `prefix` (see `kv.domain.ChangeFeed`)."""
        return self._history.subscribe(prefix, from_revision)

    async def get(self, key: str) -> Entry | None:
        return self._entries.get(key, self._clock())

    def key_count(self) -> int:
        """The keys held, expired ones not yet removed included (the `kv_keys` metric)."""
        return len(self._entries)

    async def list(
        self, prefix: str, *, after: str | None, limit: int, keys_only: bool = False
    ) -> Listing:
        with self._lock:
            entries, more = self._entries.page(
                prefix, after, limit, self._clock(), keys_only=keys_only
            )
            return Listing(entries, more, self._revision)

    async def write(self, write: Write) -> Written:
        return self.apply(write)

    def apply(self, write: Write) -> Written:
        """Carry out `write` at once (what `write` does, for callers that cannot await)."""
        with self._lock:
            now = self._clock()
            current = self._entries.raw(write.key)
            if current is not None and current.expired(now):
                self._remove(current)
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
            self._expiry.move(
                write.key,
                None if current is None else current.expires_at,
                None if written.entry is None else written.entry.expires_at,
            )
        if write.ttl is not None:
            self._sweeper.ensure_running()
        return written

    async def check(self) -> None:
        return None

    def _remove(self, expired: Entry) -> None:
        """Remove an expired entry: a change at the next revision. Call with the lock held."""
        self._revision += 1
        self._entries.remove(expired.key)
        self._expiry.move(expired.key, expired.expires_at, None)
        self._history.record(Change.delete(expired.key, self._revision, expired=True))

    def _expire_due(self, limit: int) -> int:
        with self._lock:
            due = self._expiry.due(self._clock(), limit)
            for _, key in due:
                entry = self._entries.raw(key)
                assert entry is not None
                self._remove(entry)
            return len(due)
