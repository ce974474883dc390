"""IdempotencyRecords: the idempotency records of a local store, in memory, by expiry.

The local stores (memory, sqlite) keep every record in memory, as they keep
every entry: a dict by scoped key, and an `ExpiryIndex` so that expired
records are found soonest first, a bounded number at a time (`due`), never
by scanning them all. Records are not entries: no read, listing, watch or
snapshot of the store sees them.
"""

from __future__ import annotations

from collections.abc import Iterable

from kv.adapters.keydir import ExpiryIndex
from kv.domain import IdempotencyRecord


class IdempotencyRecords:
    """Every record held, and when each expires."""

    def __init__(self, records: Iterable[IdempotencyRecord] = ()) -> None:
        self._by_key: dict[str, IdempotencyRecord] = {}
        self._expiry = ExpiryIndex()
        for record in records:
            self.set(record)

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: str, now: float) -> IdempotencyRecord | None:
        """The live record under `key` (an expired one is none, removed or not)."""
        record = self._by_key.get(key)
        return None if record is None or record.expired(now) else record

    def set(self, record: IdempotencyRecord) -> None:
        previous = self._by_key.get(record.key)
        self._by_key[record.key] = record
        self._expiry.move(
            record.key, None if previous is None else previous.expires_at, record.expires_at
        )

    def remove(self, key: str) -> None:
        record = self._by_key.pop(key, None)
        if record is not None:
            self._expiry.move(key, record.expires_at, None)

    def due(self, now: float, limit: int) -> list[str]:
        """At most `limit` keys of records expired at `now`, soonest first."""
        return [key for _, key in self._expiry.due(now, limit)]

    def next_due(self) -> float | None:
        return self._expiry.next_due()
