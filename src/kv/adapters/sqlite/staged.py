"""StagedChanges: what `SqliteStore` has decided and queued for its writer, not yet durable.

A change is staged from the moment its write is decided until the writer
hands its batch back, durable or failed. Later writes to its key decide on
top of it, and a write whose answer depends on it waits for it (`durable`),
so that no caller hears of a state a crash could still undo. A `Commit`
gathers what one SQL transaction will write (one transaction's changes, or a
batch's), staging each change as it is added.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from kv.adapters.sqlite.database import RecordRow, Row
from kv.adapters.sqlite.writer import Batch
from kv.domain import (
    Change,
    Entry,
    IdempotencyRecord,
    KVError,
    OutcomeUnknown,
    StorageUnavailable,
    Write,
    Written,
)


class StagedChanges:
    """The latest staged change of each key: the entry it makes (None: removed) and its future.

    And the future of the latest staged write of each idempotency record.
    """

    def __init__(self) -> None:
        self._by_key: dict[str, tuple[Entry | None, asyncio.Future[None]]] = {}
        self._records: dict[str, asyncio.Future[None]] = {}

    def get(self, key: str) -> tuple[Entry | None, asyncio.Future[None]] | None:
        return self._by_key.get(key)

    def stage(self, key: str, entry: Entry | None, done: asyncio.Future[None]) -> None:
        self._by_key[key] = (entry, done)

    def stage_records(self, records: Iterable[RecordRow], done: asyncio.Future[None]) -> None:
        for record in records:
            self._records[record.key] = done

    def record_pending(self, key: str) -> list[asyncio.Future[None]]:
        """The future of the record under `key` while its write is staged ([]: durable)."""
        staged = self._records.get(key)
        return [] if staged is None else [staged]

    def settle(self, batch: Batch) -> None:
        """`batch` is durable and visible: unstage it, then answer its writers."""
        for pending in batch:
            for row in pending.rows:
                self._unstage(row.key, pending.done)
            self._unstage_records(pending.records, pending.done)
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(None)

    def fail(self, batch: Batch, failure: KVError) -> None:
        """`batch` was not made durable: unstage it, and give each writer its own `failure`."""
        for pending in batch:
            for row in pending.rows:
                self._unstage(row.key, pending.done)
            self._unstage_records(pending.records, pending.done)
            if not pending.done.done():
                pending.done.set_exception(type(failure)(str(failure)))

    def _unstage_records(self, records: Iterable[RecordRow], done: asyncio.Future[None]) -> None:
        for record in records:
            if self._records.get(record.key) is done:
                del self._records[record.key]

    def _unstage(self, key: str, done: asyncio.Future[None]) -> None:
        staged = self._by_key.get(key)
        if staged is not None and staged[1] is done:
            del self._by_key[key]


class Commit:
    """What one SQL transaction will write: the rows, changes and records of one or more
    transactions, in revision order, and the future that answers them all. Each is staged
    as it is added, so that the transactions decided after it see it."""

    __slots__ = ("changes", "done", "records", "rows")

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.done = done
        self.rows: list[Row] = []
        self.changes: list[Change] = []
        self.records: list[RecordRow] = []
        # Nobody may be left to wait for it (an expiry's removal alone): its failure is the
        # store's (fail-stop), not a caller's.
        done.add_done_callback(lambda future: future.cancelled() or future.exception())

    def add(self, row: Row, change: Change, staged: StagedChanges) -> None:
        self.rows.append(row)
        self.changes.append(change)
        staged.stage(change.key, change.entry, self.done)

    def add_record(self, record: RecordRow, staged: StagedChanges) -> None:
        self.records.append(record)
        staged.stage_records((record,), self.done)


def row_and_change(written: Written, write: Write) -> tuple[Row, Change]:
    """The row that stores a decided `write`, and the change watchers are told of."""
    entry = written.entry
    if entry is None:
        return Row(write.key, None, written.revision), Change.delete(write.key, written.revision)
    # Decoded here, not in the writer, so the writer thread spends its time
    # in SQLite (which releases the GIL) rather than in Python.
    value_json = write.value_json.decode("utf-8")
    row = Row(write.key, value_json, written.revision, entry.expires_at)
    return row, Change.put(entry, write.value_json)


def record_row(record: IdempotencyRecord) -> RecordRow:
    """The row that stores an idempotency record."""
    return RecordRow(record.key, record.encode(), record.expires_at)


async def durable(done: asyncio.Future[None]) -> None:
    """Wait for a staged change; its failure raised as a fresh error for this caller."""
    try:
        # Shielded: a caller that goes away must not cancel the store's future.
        await asyncio.shield(done)
    except (StorageUnavailable, OutcomeUnknown) as exc:
        # A fresh instance: one raised in many tasks would collect all their tracebacks.
        raise type(exc)(str(exc)) from None
