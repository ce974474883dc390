"""The writer thread of `SqliteStore`: group commit, one transaction and one sync per batch."""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kv.adapters.sqlite.database import CommitFailed, RecordRow, Row, write_transaction
from kv.domain import Change, KVError, OutcomeUnknown, StorageUnavailable
from kv.observability import get_logger

log = get_logger("kv.sqlite")

# A batch of more transactions than this is split (never inside one): it bounds the SQL
# transaction (values may be 1 MiB each) without making anyone wait for more than one extra sync.
MAX_BATCH = 1024


@dataclass(frozen=True, slots=True)
class Pending:
    """The changes of one transaction (or of a batch of them) waiting for the writer: rows,
    changes, one future.

    `rows[i]` stores `changes[i]` (what watchers are told, and the entry it
    makes visible, once durable), in revision order: all at one revision for
    one transaction, a revision per transaction for a batch. A pending is never
    split between two SQL transactions: it is on disk whole or not at all.
    """

    rows: tuple[Row, ...]
    changes: tuple[Change, ...]
    done: asyncio.Future[None]
    # Idempotency records written (or removed) with the rows; `store_revision`: the store's
    # revision when queued, that of a transaction that changed no key.
    records: tuple[RecordRow, ...] = ()
    store_revision: int = 0

    @property
    def revision(self) -> int:
        return self.rows[-1].revision if self.rows else self.store_revision


Batch = list[Pending]
_CLOSE = None  # the queue item that tells the writer to stop


class GroupCommitWriter:
    """Owns the write connection in a thread of its own and writes queued changes in batches.

    It takes everything waiting on the queue at that moment and writes it as
    ONE transaction with ONE sync (group commit), so concurrent writers
    share the cost of an fsync instead of queueing for one each; then it
    hands the batch back on the event loop: `on_durable(batch)`, or
    `on_failed(batch, error)`. Fail-stop: after one failed transaction every
    later batch fails too (StorageUnavailable: not written); the failed one
    is OutcomeUnknown when its COMMIT failed (its WAL frames may be on disk)
    and StorageUnavailable when something before COMMIT failed.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        loop: asyncio.AbstractEventLoop,
        on_durable: Callable[[Batch], None],
        on_failed: Callable[[Batch, KVError], None],
        on_commit: Callable[[int, float], None],
    ) -> None:
        """`on_commit(changes, seconds)` is called in this thread after each transaction synced."""
        self._connection = connection
        self._on_commit = on_commit
        self._loop = loop
        self._on_durable = on_durable
        self._on_failed = on_failed
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="kv-sqlite-writer", daemon=True)
        self.failure: KVError | None = None
        self.transactions = 0
        self.changes_written = 0

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def put(self, pending: Pending) -> None:
        """Queue a change (from the event loop); it is written after every change queued before."""
        self._queue.put(pending)

    async def stop(self) -> None:
        """Write everything queued, then stop and close the connection."""
        self._queue.put(_CLOSE)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        try:
            closing = False
            while not closing:
                batch: Batch = []
                item = self._queue.get()
                while item is not _CLOSE:
                    batch.append(item)
                    if len(batch) >= MAX_BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                else:
                    closing = True
                if batch:
                    self._write(batch)
        finally:
            self._connection.close()

    def _write(self, batch: Batch) -> None:
        failure: KVError | None = None
        if self.failure is not None:
            failure = StorageUnavailable(f"not written: an earlier write failed: {self.failure}")
        else:
            # Only the last change of each key in the batch matters on disk.
            rows = {row.key: row for pending in batch for row in pending.rows}.values()
            records = {r.key: r for pending in batch for r in pending.records}.values()
            started = time.perf_counter()
            try:
                write_transaction(self._connection, rows, batch[-1].revision, records)
            except CommitFailed as exc:
                failure = OutcomeUnknown(f"storage commit failed; the write may be applied: {exc}")
            except Exception as exc:  # any failure: stop writing, see the class docstring
                failure = StorageUnavailable(f"storage write failed: {exc}")
            if failure is not None:
                log.error(
                    "sqlite write failed; the store refuses writes until restarted",
                    reason=str(failure),
                )
                self.failure = failure
        if failure is None:
            changes = sum(len(pending.rows) for pending in batch)
            self._on_commit(changes, time.perf_counter() - started)
            self.transactions += 1
            self.changes_written += changes
            self._loop.call_soon_threadsafe(self._on_durable, batch)
        else:
            self._loop.call_soon_threadsafe(self._on_failed, batch, failure)
