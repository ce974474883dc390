"""ChangeHistory: the change feed of the local stores (memory, sqlite), one ring for all watchers.

The store records each change once it is visible (`record`, in revision
order, on the event loop's thread). The history keeps the most recent
changes, bounded in count and in bytes (`HistoryLimits`); each watcher is a
`HistorySubscription`, a cursor into that one shared sequence plus a prefix,
so a thousand watchers cost a thousand cursors, not a thousand copies.

The changes of one transaction share its revision; a watcher is handed
them together (`_available` never stops inside a revision), so a stream
that ends between two batches never ends inside a transaction.

A change is numbered by its position in the sequence of everything ever
recorded (`seq`), dense even where revisions are not. A watcher is too
slow, and is ended with WatcherTooSlow, when more than `max_lag` changes
made since it began wait for it (half the history, so it can still resume
from where it was) or when the next change it needs has been dropped.

A waiting watcher sleeps on a future of its own, which the next `record`
(or its `close`) completes: a write wakes each idle watcher once, and a
watcher that wakes reads every change recorded meanwhile.

Wake-ups are paced by what they cost: waking a thousand watchers means a
thousand sends on the event loop, during which no write is served. The time
from a wake-up to the end of the round of sends it caused is measured, and
the next wake-up comes no sooner than as long again (at most MAX_PACE_SECONDS)
after that round ended; changes recorded meanwhile wait for it and go out
together. So under a steady stream of writes the loop serves writes between
rounds instead of one round after another, and an event waits at most
MAX_PACE_SECONDS more; a write to an idle store, or with few watchers (a
round of microseconds), wakes them at once.
"""

from __future__ import annotations

import asyncio
import bisect
from dataclasses import dataclass

from kv.adapters.subscription import PolledSubscription
from kv.config import DEFAULTS
from kv.domain import Change, Compacted, WatcherTooSlow

# Dropped changes are removed from the front of the list in chunks this large
# (at least): deleting from a list's front is O(n), so it is done rarely.
_TRIM_CHUNK = 1024
# The longest a wake-up waits after the last round of sends (however long that took), so
# that an event is delayed by at most this much more under a heavy load.
MAX_PACE_SECONDS = 0.005


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    """How much history a store keeps for watchers: changes, and bytes of keys and values."""

    events: int = DEFAULTS.watch_history_events
    bytes: int = DEFAULTS.watch_history_bytes

    @property
    def max_lag(self) -> int:
        """A watcher with more changes than this waiting for it is too slow."""
        return max(1, self.events // 2)


class ChangeHistory:
    """The recent changes of one store, in revision order, and the watchers reading them."""

    def __init__(self, limits: HistoryLimits | None = None, *, revision: int = 0) -> None:
        """`revision`: the store's revision now; every change after it will be recorded."""
        self._limits = limits or HistoryLimits()
        self._waiters: set[asyncio.Future[None]] = set()
        self._closed = False
        self._wake_pending = False  # a wake-up is scheduled (see the module's docstring)
        self._quiet_until = 0.0  # loop time before which no wake-up starts
        self.reset(revision)

    def reset(self, revision: int) -> None:
        """Start over at `revision` (a store that loaded its data): nothing up to it is kept."""
        self._changes: list[Change] = []
        self._start = 0  # index in _changes of the oldest kept change
        self._offset = 0  # seq of _changes[0]
        self._bytes = 0
        self._first_revision = revision + 1  # every change from it on is kept
        self._revision = revision

    @property
    def first_seq(self) -> int:
        """The seq of the oldest change kept."""
        return self._offset + self._start

    @property
    def end_seq(self) -> int:
        """The seq the next change recorded will have."""
        return self._offset + len(self._changes)

    @property
    def limits(self) -> HistoryLimits:
        return self._limits

    @property
    def closed(self) -> bool:
        return self._closed

    def at(self, seq: int) -> Change:
        return self._changes[seq - self._offset]

    def between(self, start: int, end: int) -> list[Change]:
        """The changes from seq `start` to before `end` (both kept)."""
        return self._changes[start - self._offset : end - self._offset]

    def record(self, change: Change) -> None:
        """Add the change just made visible; its revision is at least every one recorded.

        The changes of one transaction share its revision and are recorded
        together, with nothing in between.
        """
        assert change.revision >= self._revision, (change.revision, self._revision)
        self._revision = change.revision
        self._changes.append(change)
        self._bytes += change.size
        limits = self._limits
        if len(self._changes) - self._start > limits.events or self._bytes > limits.bytes:
            self._drop_oldest()
        if self._waiters:
            self._wake_soon()

    def _drop_oldest(self) -> None:
        """Drop the oldest changes until the rest fit the limits (the newest is always kept)."""
        kept = len(self._changes) - self._start
        while kept > 1 and (kept > self._limits.events or self._bytes > self._limits.bytes):
            dropped = self._changes[self._start]
            self._start += 1
            kept -= 1
            self._bytes -= dropped.size
            self._first_revision = dropped.revision + 1
        if self._start >= _TRIM_CHUNK and self._start * 2 >= len(self._changes):
            del self._changes[: self._start]
            self._offset += self._start
            self._start = 0

    def subscribe(self, prefix: str, from_revision: int | None) -> HistorySubscription:
        """A cursor at `from_revision` (None: after the last change); Compacted if dropped."""
        if from_revision is None:
            return HistorySubscription(self, prefix, self.end_seq, 0)
        if from_revision < self._first_revision:
            raise Compacted(from_revision, self._first_revision)
        index = bisect.bisect_left(
            self._changes, from_revision, lo=self._start, key=lambda change: change.revision
        )
        # A revision not yet made: the cursor waits at the end, skipping what comes before it.
        return HistorySubscription(self, prefix, self._offset + index, from_revision)

    def close(self) -> None:
        """End every subscription (the store is closing)."""
        self._closed = True
        self._wake()

    def waiter(self) -> asyncio.Future[None]:
        """A future the next `record` or `close` completes (the caller may complete it sooner)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_result(None)
        else:
            self._waiters.add(future)
        return future

    def forget(self, waiter: asyncio.Future[None]) -> None:
        """`waiter` is no longer awaited (its watcher was cancelled or woke)."""
        self._waiters.discard(waiter)

    def _wake_soon(self) -> None:
        """Wake the waiting watchers now, or once the last round of sends has been paid for."""
        if self._wake_pending or not self._waiters:
            return
        loop = asyncio.get_running_loop()
        if loop.time() >= self._quiet_until:
            self._wake()
        else:
            self._wake_pending = True
            loop.call_at(self._quiet_until, self._wake)

    def _wake(self) -> None:
        self._wake_pending = False
        waiters, self._waiters = self._waiters, set()
        for future in waiters:
            if not future.done():
                future.set_result(None)
        if waiters:
            # Queued after every woken watcher: it runs once they have all made their sends.
            loop = asyncio.get_running_loop()
            loop.call_soon(self._round_ended, loop.time())

    def _round_ended(self, started: float) -> None:
        now = asyncio.get_running_loop().time()
        self._quiet_until = now + min(now - started, MAX_PACE_SECONDS)


class HistorySubscription(PolledSubscription):
    """One watcher: the seq of the next change it reads, the prefix it follows, the first revision.

    `from_revision`: changes below it are skipped (a watch from a revision not made yet).
    """

    def __init__(self, history: ChangeHistory, prefix: str, seq: int, from_revision: int) -> None:
        self._history = history
        self._prefix = prefix
        self._seq = seq
        self._from_revision = from_revision
        # Changes recorded before the watch began are history to replay, not lag.
        self._baseline = history.end_seq
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None

    async def _more(self) -> None:
        self._waiter = self._history.waiter()
        try:
            await self._waiter
        finally:
            self._history.forget(self._waiter)
            self._waiter = None

    def _available(self, limit: int) -> list[Change]:
        """Up to `limit` changes for this watcher recorded so far (none: wait for more)."""
        history = self._history
        if self._closed or history.closed:
            raise StopAsyncIteration
        if self._seq < history.first_seq:
            self.close()
            raise WatcherTooSlow("changes this watcher had not read were dropped")
        if history.end_seq - max(self._seq, self._baseline) > history.limits.max_lag:
            self.close()
            raise WatcherTooSlow(
                f"more than {history.limits.max_lag} changes were waiting for this watcher"
            )
        end = history.end_seq
        prefix, first = self._prefix, self._from_revision
        if end - self._seq <= limit:
            # Everything recorded since fits (the common case: a watcher that keeps up).
            pending = history.between(self._seq, end)
            self._seq = end
            return [c for c in pending if c.key.startswith(prefix) and c.revision >= first]
        found: list[Change] = []
        while self._seq < end and (
            len(found) < limit or (found and history.at(self._seq).revision == found[-1].revision)
        ):
            # Past `limit` only to finish a transaction: its changes go out together.
            change = history.at(self._seq)
            self._seq += 1
            if change.key.startswith(prefix) and change.revision >= first:
                found.append(change)
        return found

    def close(self) -> None:
        self._closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
