"""SqliteStore: a durable `Store`, synced to disk before a write is acknowledged."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from kv.adapters.history import ChangeHistory, HistoryLimits, HistorySubscription
from kv.adapters.keydir import SWEEP_INTERVAL_SECONDS, ExpiryIndex, ExpirySweeper, KeyDirectory
from kv.adapters.sqlite.database import DATABASE_FILE, Row, open_database
from kv.adapters.sqlite.writer import Batch, GroupCommitWriter, Pending
from kv.domain import (
    Change,
    Decision,
    Entry,
    KVError,
    OutcomeUnknown,
    StorageUnavailable,
    Write,
    Written,
)
from kv.domain.model import Listing
from kv.domain.ttl import Clock

log = logging.getLogger("kv.sqlite")


class SqliteStore:
    """A durable `Store` on Python's sqlite3: group commit in a writer thread, reads from memory.

    Writes: `write` decides the write on the event loop, in one synchronous
    step (no await between reading the current entry and taking the next
    revision: the event loop is the lock; the store belongs to the loop that
    opened it), queues the change and waits until it is durable. The writer
    thread (`GroupCommitWriter`) writes what is queued in batches, one
    transaction and one sync each, so concurrent writers share an fsync.

    Staged changes: a change queued but not yet durable is "staged". Later
    writes decide on top of it (so conditions and revisions chain), and a
    write whose answer depends on a staged change (an unchanged put, a
    refused create) waits for that change to be durable before answering.

    Reads: the whole key directory (every key with its entry, in key order)
    is kept in memory, loaded at `open` and updated on the event loop when a
    batch is durable and *before* its writers are answered. So `get` and
    `list` never touch the disk on the event loop, and see exactly the
    durable changes. This is Bitcask's keydir: the disk is for surviving
    restarts, memory for serving; the data set must fit in memory.

    Expiry: `expires_at` is stored with each entry. Reads hide an entry
    from that moment; its removal is queued like any delete, at its own
    revision, by the first write to the key or the expiry sweeper, and at
    `open` for every entry that expired while the store was closed.

    Faults are fail-stop, as PostgreSQL does after a failed fsync: once a
    transaction fails, what is on disk is no longer known, so every later
    write fails with StorageUnavailable (never sent) and `check` reports the
    store unusable until the process is restarted (and reloads the disk). A
    batch whose COMMIT failed is answered OutcomeUnknown (its WAL frames may
    have reached the disk, and would then be recovered at the next start); a
    batch that failed before COMMIT is answered StorageUnavailable.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        integrity_check: bool = False,
        connection_class: type[sqlite3.Connection] = sqlite3.Connection,
        clock: Clock = time.time,
        sweep_interval: float = SWEEP_INTERVAL_SECONDS,
        on_commit: Callable[[int, float], None] = lambda changes, seconds: None,
        history: HistoryLimits | None = None,
    ) -> None:
        """`connection_class`: the sqlite3 connection type (tests inject faults with it).

        `clock`: the time in Unix seconds (tests pass their own, so that nothing sleeps).
        `on_commit(changes, seconds)`: told of each transaction written and synced (metrics),
        in the writer thread. `history`: how many recent changes the change feed keeps
        (changes are published once durable; none from before `open`).
        """
        self._history = ChangeHistory(history)
        self._on_commit = on_commit
        self._data_dir = data_dir
        self._integrity_check = integrity_check
        self._connection_class = connection_class
        self._clock = clock
        self._entries = KeyDirectory()
        # Follows the staged state (what writes decide on), not the durable one.
        self._expiry = ExpiryIndex()
        # (The index is replaced at open: look it up at each call.)
        self._sweeper = ExpirySweeper(
            self._expire_due, lambda: self._expiry.next_due(), clock, sweep_interval
        )
        self._staged: dict[str, tuple[Entry | None, asyncio.Future[None]]] = {}
        self._revision = 0
        self._durable_revision = 0
        self._writer: GroupCommitWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def path(self) -> Path:
        """The database file."""
        return self._data_dir / DATABASE_FILE

    @property
    def revision(self) -> int:
        """The revision of the last change decided (staged or durable)."""
        return self._revision

    @property
    def transactions(self) -> int:
        """Transactions (one sync each) committed since `open`: group commit at work."""
        return 0 if self._writer is None else self._writer.transactions

    @property
    def changes_written(self) -> int:
        """Changes made durable since `open`."""
        return 0 if self._writer is None else self._writer.changes_written

    async def open(self) -> None:
        """Open (or create) the database, load every entry, start the writer.

        Raises ConfigError naming KV_DATA_DIR when the directory cannot be
        written or the file is not a usable database.
        """
        self._loop = asyncio.get_running_loop()
        loaded = await asyncio.to_thread(
            open_database,
            self._data_dir,
            integrity_check=self._integrity_check,
            connection_class=self._connection_class,
        )
        self._entries = KeyDirectory(loaded.entries)
        self._expiry = ExpiryIndex(list(loaded.entries.values()))
        self._revision = self._durable_revision = loaded.revision
        self._history.reset(loaded.revision)
        self._writer = GroupCommitWriter(
            loaded.connection, self._loop, self._on_durable, self._on_failed, self._on_commit
        )
        self._writer.start()
        # Entries that expired while the store was closed go now, each at a revision of its own.
        self._expire_due(len(self._expiry))
        if len(self._expiry):
            self._sweeper.ensure_running()
        log.info(
            "sqlite store open",
            extra={
                "path": str(self.path),
                "entries": len(self._entries),
                "revision": self._revision,
            },
        )

    async def close(self) -> None:
        """Write everything queued, stop the writer and close the database."""
        if self._closed:
            return
        self._closed = True
        self._history.close()
        await self._sweeper.stop()
        if self._writer is None:
            return
        await self._writer.stop()
        # Let the writer's last completions (scheduled on this loop) run.
        await asyncio.sleep(0)

    async def get(self, key: str) -> Entry | None:
        return self._entries.get(key, self._clock())

    def key_count(self) -> int:
        """The keys held, expired ones not yet removed included (the `kv_keys` metric)."""
        return len(self._entries)

    async def list(
        self, prefix: str, *, after: str | None, limit: int, keys_only: bool = False
    ) -> Listing:
        entries, more = self._entries.page(prefix, after, limit, self._clock(), keys_only=keys_only)
        return Listing(entries, more, self._durable_revision)

    async def write(self, write: Write) -> Written:
        """Decide `write` on the latest (staged) entry, queue the change, answer once durable."""
        self._refuse_if_unusable()
        now = self._clock()
        staged = self._staged.get(write.key)
        current, waiting = staged if staged is not None else (self._entries.raw(write.key), None)
        if current is not None and current.expired(now):
            waiting = self._queue_removal(current)
            current = None
        try:
            decision = write.decide(current)
        except KVError:
            if waiting is not None:
                await self._durable(waiting)
            raise
        if decision is Decision.UNCHANGED:
            if waiting is not None:
                await self._durable(waiting)
            return Written.apply(write, current, decision, self._revision, now)
        self._revision += 1
        written = Written.apply(write, current, decision, self._revision, now)
        done = self._queue_change(written, write)
        self._expiry.move(
            write.key,
            None if current is None else current.expires_at,
            None if written.entry is None else written.entry.expires_at,
        )
        if write.ttl is not None:
            self._sweeper.ensure_running()
        await self._durable(done)
        return written

    async def subscribe(self, prefix: str, from_revision: int | None) -> HistorySubscription:
        """Follow the durable changes under `prefix` (see `kv.domain.ChangeFeed`)."""
        return self._history.subscribe(prefix, from_revision)

    async def check(self) -> None:
        """Raise StorageUnavailable once a write has failed, or when the store is not open."""
        self._refuse_if_unusable()
        assert self._writer is not None
        if not self._writer.is_alive():
            raise StorageUnavailable("the sqlite store's writer has stopped")

    def _refuse_if_unusable(self) -> None:
        if self._writer is not None and self._writer.failure is not None:
            raise StorageUnavailable(
                f"the sqlite store stopped after a failed write: {self._writer.failure}"
            )
        if self._closed or self._writer is None:
            raise StorageUnavailable("the sqlite store is not open")

    def _queue_change(self, written: Written, write: Write) -> asyncio.Future[None]:
        entry = written.entry
        # Decoded here, not in the writer, so the writer thread spends its time
        # in SQLite (which releases the GIL) rather than in Python.
        value_json = None if entry is None else write.value_json.decode("utf-8")
        expires_at = None if entry is None else entry.expires_at
        change = (
            Change.delete(write.key, written.revision)
            if entry is None
            else Change.put(entry, write.value_json)
        )
        return self._queue(Row(write.key, value_json, written.revision, expires_at), entry, change)

    def _queue_removal(self, expired: Entry) -> asyncio.Future[None]:
        """Queue the removal of an expired entry, at the next revision."""
        self._revision += 1
        self._expiry.move(expired.key, expired.expires_at, None)
        change = Change.delete(expired.key, self._revision, expired=True)
        done = self._queue(Row(expired.key, None, self._revision), None, change)
        # Nobody may wait for it: its failure is the store's (fail-stop), not a caller's.
        done.add_done_callback(lambda future: future.cancelled() or future.exception())
        return done

    def _queue(self, row: Row, entry: Entry | None, change: Change) -> asyncio.Future[None]:
        assert self._loop is not None
        assert self._writer is not None
        done: asyncio.Future[None] = self._loop.create_future()
        self._writer.put(Pending(row, entry, done, change))
        self._staged[row.key] = (entry, done)
        return done

    def _expire_due(self, limit: int) -> int:
        """Queue the removal of at most `limit` entries due now; how many were queued."""
        try:
            self._refuse_if_unusable()
        except StorageUnavailable:
            return 0
        due = self._expiry.due(self._clock(), limit)
        for expires_at, key in due:
            staged = self._staged.get(key)
            current = staged[0] if staged is not None else self._entries.raw(key)
            assert current is not None
            assert current.expires_at == expires_at
            self._queue_removal(current)
        return len(due)

    @staticmethod
    async def _durable(done: asyncio.Future[None]) -> None:
        """Wait for a queued change; its failure raised as a fresh error for this caller."""
        try:
            # Shielded: a caller that goes away must not cancel the store's future.
            await asyncio.shield(done)
        except (StorageUnavailable, OutcomeUnknown) as exc:
            # A fresh instance: one raised in many tasks would collect all their tracebacks.
            raise type(exc)(str(exc)) from None

    # --- completions (run on the event loop) --------------------------------

    def _on_durable(self, batch: Batch) -> None:
        # Every change is visible before any writer hears of its own.
        for pending in batch:
            key = pending.row.key
            if pending.entry is None:
                self._entries.remove(key)
            else:
                self._entries.set(pending.entry)
            self._unstage(key, pending.done)
            if pending.change is not None:
                self._history.record(pending.change)
        self._durable_revision = batch[-1].row.revision
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(None)

    def _on_failed(self, batch: Batch, failure: KVError) -> None:
        for pending in batch:
            self._unstage(pending.row.key, pending.done)
            if not pending.done.done():
                pending.done.set_exception(type(failure)(str(failure)))

    def _unstage(self, key: str, done: asyncio.Future[None]) -> None:
        staged = self._staged.get(key)
        if staged is not None and staged[1] is done:
            del self._staged[key]
