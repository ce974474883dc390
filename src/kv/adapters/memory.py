"""InMemoryStore: the reference store, entries in key order in memory; gone with the process.

Memory layout (the key directory's, `kv.adapters.keydir`, shared with the
sqlite store): the keys in a `SortedMap` (sorted chunks, a value beside each
key: two pointers a key, no hash table), and an entry whose value is a
string and that never expires packed beside its key as one `bytes`, its
revision then its value's UTF-8 (`kv.adapters.packed`); any other entry is
kept as the `Entry` itself. So the common entry costs its key's str, one
bytes object a little larger than its value, and two pointers: no `Entry`,
no int, no separate str for the value and no hash table slot, each of which
CPython would charge a header or a slot per key. Nothing is re-encoded as JSON and
every value comes back exactly as it was put: reads build the `Entry`
again, and keep the entries of the keys read lately as built (a bounded
number), so a key read often is not unpacked every time. Expiry and the
change history hold nothing per key that does not expire or did not change
lately: the expiry index holds only keys with a ttl, the history a bounded
number of recent changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from kv.adapters.history import HistoryLimits
from kv.adapters.keydir import SWEEP_INTERVAL_SECONDS
from kv.adapters.local import LocalStore
from kv.domain import Change, Decision, Entry, KVError, Outcome, Transaction, Write, Written
from kv.domain.ports import BatchOutcomes
from kv.domain.ttl import Clock


class InMemoryStore(LocalStore):
    """A `Store` that keeps every entry in key order in this process's memory (see above).

    The reference implementation of the port: a transaction is decided and
    applied under one lock with nothing else in between (no await, no I/O),
    and is visible when it returns. A lone write (`Store.write`, or a
    batch item that is one) is decided by `Write.written` without building
    the transaction around it; a batch (`transact_many`) takes the lock
    once. An entry whose ttl has passed is hidden
    from that moment; it is removed, at a revision of its own, by the first
    write to its key or by the expiry sweeper, whichever comes first. An
    idempotency record is kept in the same step as the changes of its
    transaction. Reads, the change feed and the sweep are `LocalStore`'s (its
    docstring names the arguments).
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

    async def transact(self, txn: Transaction) -> Outcome:
        return self.apply(txn)

    async def write(self, write: Write) -> Written:
        with self._lock:
            return self._write(write, self._clock())

    async def transact_many(self, txns: Sequence[Transaction]) -> BatchOutcomes:
        """The batch under one hold of the lock, each transaction as `apply` would carry it out."""
        results: BatchOutcomes = []
        with self._lock:
            for txn in txns:
                try:
                    results.append(self._transact(txn))
                except KVError as exc:
                    results.append(exc)
        return results

    def apply(self, txn: Transaction) -> Outcome:
        """Carry out `txn` at once (what `transact` does, for callers that cannot await)."""
        with self._lock:
            return self._transact(txn)

    def _transact(self, txn: Transaction) -> Outcome:
        """Decide and apply `txn`; called with the lock held."""
        now = self._clock()
        write = txn.lone_write
        if write is not None:
            return Outcome.of_write(txn.success, self._write(write, now), self._revision)
        current = {key: self._live(key, now) for key in txn.keys}
        outcome = txn.decide(current, self._revision, now, self._recorded(txn))
        if outcome.record is not None:
            self._keep_record(outcome.record)
        if outcome.changed:
            self._revision = outcome.revision
            for changed, written in outcome.changes():
                self._commit(changed, current[changed.key], written)
        return outcome

    def _write(self, write: Write, now: float) -> Written:
        """Decide and apply a lone write (`Write.written`); called with the lock held."""
        current = self._live(write.key, now)
        written = write.written(current, self._revision, now)
        if written.decision is not Decision.UNCHANGED:
            self._revision = written.revision
            self._commit(write, current, written)
        return written

    def _live(self, key: str, now: float) -> Entry | None:
        """The entry a write to `key` decides on: None when it has expired (then removed)."""
        entry = self._latest(key)
        if entry is not None and entry.expired(now):
            self._remove_expired(entry)
            return None
        return entry

    def _commit(self, write: Write, current: Entry | None, written: Written) -> None:
        """Make `write`'s change, decided on `current`, visible at `written.revision`."""
        if written.entry is None:
            self._entries.remove(write.key)
            self._history.record(Change.delete(write.key, written.revision))
        else:
            self._entries.set(written.entry)
            self._history.record(Change.put(written.entry, write.value_json))
        self._track_expiry(write, current, written)

    async def check(self) -> None:
        return None

    def _remove_records(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._records.remove(key)

    def _remove_expired(self, expired: Entry) -> None:
        change = self._take_removal(expired)
        self._entries.remove(expired.key)
        self._history.record(change)
