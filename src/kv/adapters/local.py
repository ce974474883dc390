"""LocalStore: what the local stores (memory, sqlite) share over their in-memory key directory.

Both serve reads from a `KeyDirectory`, keep an `ExpiryIndex` that an
`ExpirySweeper` works through, and publish their changes through one
`ChangeHistory`. `LocalStore` holds these and answers `get`, `list`,
`key_count`, `subscribe` and `snapshot` from them, and runs the expiry sweep; a
subclass keeps only what differs: how a write is applied and made
durable, which entry a write decides on, and what is loaded at `open`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

from kv.adapters.history import ChangeHistory, HistoryLimits, HistorySubscription
from kv.adapters.keydir import SWEEP_INTERVAL_SECONDS, ExpiryIndex, ExpirySweeper, KeyDirectory
from kv.adapters.records import IdempotencyRecords
from kv.adapters.snapshot_view import LocalSnapshot
from kv.domain import (
    Change,
    Entry,
    IdempotencyRecord,
    SingleWrites,
    Transaction,
    Write,
    Written,
)
from kv.domain.model import Listing
from kv.domain.ttl import Clock


class LocalStore(SingleWrites, ABC):
    """The reads, change feed and expiry sweep of a store whose entries all live in memory.

    `clock`: the time in Unix seconds (tests pass their own, so that nothing sleeps).
    `history`: how many recent changes the change feed keeps for watchers.
    `lock`: held while a read of a key not read lately, a listing or a sweep
    round reads the key directory and the expiry index; a store whose writes
    may come from another thread passes a `threading.Lock` and holds it
    while it writes too.
    """

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        sweep_interval: float = SWEEP_INTERVAL_SECONDS,
        history: HistoryLimits | None = None,
        lock: AbstractContextManager[object] | None = None,
    ) -> None:
        self._clock = clock
        self._lock = lock if lock is not None else nullcontext()
        self._entries = KeyDirectory()
        self._expiry = ExpiryIndex()
        self._revision = 0
        self._history = ChangeHistory(history)
        # Idempotency records (as decided: a durable store's may not be durable yet).
        self._records = IdempotencyRecords()
        # (A subclass may replace the indexes at open: look them up at each call.)
        self._sweeper = ExpirySweeper(self._expire_due, self._next_due, clock, sweep_interval)

    @property
    def revision(self) -> int:
        """The revision of the last change decided (by a durable store: perhaps not yet durable)."""
        return self._revision

    async def close(self) -> None:
        """End every watcher and stop the expiry sweeper."""
        self._history.close()
        await self._sweeper.stop()

    async def get(self, key: str) -> Entry | None:
        # A key read lately is one dict lookup, safe beside a write in another thread;
        # any other lookup is several steps, taken under the lock.
        entry = self._entries.recent(key)
        if entry is None:
            with self._lock:
                entry = self._entries.raw(key)
        return None if entry is None or entry.expired(self._clock()) else entry

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
            return Listing(entries, more, self._visible_revision())

    async def subscribe(self, prefix: str, from_revision: int | None) -> HistorySubscription:
        """Follow the changes under `prefix` once visible (see `kv.domain.ChangeFeed`)."""
        return self._history.subscribe(prefix, from_revision)

    async def snapshot(self) -> LocalSnapshot:
        """The visible entries at the visible revision: a copy-on-write view, no copy, no pause."""
        with self._lock:
            view = self._entries.view()
            return LocalSnapshot(view, self._visible_revision(), self._clock(), self._lock)

    # --- for subclasses -----------------------------------------------------

    def _visible_revision(self) -> int:
        """The revision that reads see: every change up to it is in the key directory."""
        return self._revision

    def _latest(self, key: str) -> Entry | None:
        """The entry the next write to `key` decides on, expired or not."""
        return self._entries.raw(key)

    def _sweeping(self) -> bool:
        """Whether the sweeper may remove entries now (a failed store removes nothing)."""
        return True

    def _next_due(self) -> float | None:
        """When the next entry or idempotency record expires; None: nothing does."""
        due = [t for t in (self._expiry.next_due(), self._records.next_due()) if t is not None]
        return min(due, default=None)

    def _recorded(self, txn: Transaction) -> IdempotencyRecord | None:
        """The live record under `txn`'s idempotency key (None: none, or no key)."""
        return None if txn.claim is None else self._records.get(txn.claim.key, self._clock())

    def _keep_record(self, record: IdempotencyRecord) -> None:
        self._records.set(record)
        self._sweeper.ensure_running()

    @abstractmethod
    def _remove_records(self, keys: Sequence[str]) -> None:
        """Remove the expired idempotency records under `keys`; called with the lock held."""

    @abstractmethod
    def _remove_expired(self, expired: Entry) -> None:
        """Remove `expired` (its change from `_take_removal`); called with the lock held."""

    def _take_removal(self, expired: Entry) -> Change:
        """The removal of `expired` at the next revision, taken out of the expiry index."""
        self._revision += 1
        self._expiry.move(expired.key, expired.expires_at, None)
        return Change.delete(expired.key, self._revision, expired=True)

    def _track_expiry(self, write: Write, current: Entry | None, written: Written) -> None:
        """Move `write.key` in the expiry index; wake the sweeper when the write has a ttl."""
        self._expiry.move(
            write.key,
            None if current is None else current.expires_at,
            None if written.entry is None else written.entry.expires_at,
        )
        if write.ttl is not None:
            self._sweeper.ensure_running()

    def _expire_due(self, limit: int) -> int:
        """Remove at most `limit` entries due now; how many were removed (the sweeper's call)."""
        if not self._sweeping():
            return 0
        with self._lock:
            due = self._expiry.due(self._clock(), limit)
            for expires_at, key in due:
                current = self._latest(key)
                assert current is not None
                assert current.expires_at == expires_at
                self._remove_expired(current)
            records = self._records.due(self._clock(), limit - len(due))
            if records:
                self._remove_records(records)
            return len(due) + len(records)
