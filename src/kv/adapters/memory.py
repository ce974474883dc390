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
from kv.domain import Change, Entry, Outcome, Transaction
from kv.domain.ttl import Clock


class InMemoryStore(LocalStore):
    """A `Store` that keeps every entry in key order in this process's memory (see above).

    The reference implementation of the port: a transaction is decided and
    applied under one lock with nothing else in between (no await, no I/O),
    and is visible when it returns. An entry whose ttl has passed is hidden
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

    def apply(self, txn: Transaction) -> Outcome:
        """Carry out `txn` at once (what `transact` does, for callers that cannot await)."""
        with self._lock:
            now = self._clock()
            current: dict[str, Entry | None] = {}
            for key in txn.keys:
                entry = self._latest(key)
                if entry is not None and entry.expired(now):
                    self._remove_expired(entry)
                    entry = None
                current[key] = entry
            outcome = txn.decide(current, self._revision, now, self._recorded(txn))
            if outcome.record is not None:
                self._keep_record(outcome.record)
            if not outcome.changed:
                return outcome
            self._revision = outcome.revision
            for write, written in outcome.changes():
                if written.entry is None:
                    self._entries.remove(write.key)
                    self._history.record(Change.delete(write.key, self._revision))
                else:
                    self._entries.set(written.entry)
                    self._history.record(Change.put(written.entry, write.value_json))
                self._track_expiry(write, current[write.key], written)
        return outcome

    async def check(self) -> None:
        return None

    def _remove_records(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._records.remove(key)

    def _remove_expired(self, expired: Entry) -> None:
        change = self._take_removal(expired)
        self._entries.remove(expired.key)
        self._history.record(change)
