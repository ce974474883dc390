"""StagedChanges: what `SqliteStore` has decided and queued for its writer, not yet durable.

A change is staged from the moment its write is decided until the writer
hands its batch back, durable or failed. Later writes to its key decide on
top of it, and a write whose answer depends on it waits for it (`durable`),
so that no caller hears of a state a crash could still undo.
"""

from __future__ import annotations

import asyncio

from kv.adapters.sqlite.database import Row
from kv.adapters.sqlite.writer import Batch
from kv.domain import Change, Entry, KVError, OutcomeUnknown, StorageUnavailable, Write, Written


class StagedChanges:
    """The latest staged change of each key: the entry it makes (None: removed) and its future."""

    def __init__(self) -> None:
        self._by_key: dict[str, tuple[Entry | None, asyncio.Future[None]]] = {}

    def get(self, key: str) -> tuple[Entry | None, asyncio.Future[None]] | None:
        return self._by_key.get(key)

    def stage(self, key: str, entry: Entry | None, done: asyncio.Future[None]) -> None:
        self._by_key[key] = (entry, done)

    def settle(self, batch: Batch) -> None:
        """`batch` is durable and visible: unstage it, then answer its writers."""
        for pending in batch:
            for row in pending.rows:
                self._unstage(row.key, pending.done)
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(None)

    def fail(self, batch: Batch, failure: KVError) -> None:
        """`batch` was not made durable: unstage it, and give each writer its own `failure`."""
        for pending in batch:
            for row in pending.rows:
                self._unstage(row.key, pending.done)
            if not pending.done.done():
                pending.done.set_exception(type(failure)(str(failure)))

    def _unstage(self, key: str, done: asyncio.Future[None]) -> None:
        staged = self._by_key.get(key)
        if staged is not None and staged[1] is done:
            del self._by_key[key]


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


async def durable(done: asyncio.Future[None]) -> None:
    """Wait for a staged change; its failure raised as a fresh error for this caller."""
    try:
        # Shielded: a caller that goes away must not cancel the store's future.
        await asyncio.shield(done)
    except (StorageUnavailable, OutcomeUnknown) as exc:
        # A fresh instance: one raised in many tasks would collect all their tracebacks.
        raise type(exc)(str(exc)) from None
