"""SqliteStore: a durable `Store`, synced to disk before a write is acknowledged."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from kv.adapters.history import HistoryLimits
from kv.adapters.keydir import SWEEP_INTERVAL_SECONDS, ExpiryIndex, KeyDirectory
from kv.adapters.local import LocalStore
from kv.adapters.sqlite.database import DATABASE_FILE, Row, open_database
from kv.adapters.sqlite.staged import StagedChanges, durable, row_and_change
from kv.adapters.sqlite.writer import Batch, GroupCommitWriter, Pending
from kv.domain import Change, Entry, KVError, Outcome, StorageUnavailable, Transaction
from kv.domain.ttl import Clock
from kv.observability import get_logger

log = get_logger("kv.sqlite")


class SqliteStore(LocalStore):
    """A durable `Store` on Python's sqlite3: group commit in a writer thread, reads from memory.

    Writes: `transact` decides a transaction on the event loop, in one
    synchronous step (no await between reading the current entries and
    taking the next revision: the event loop is the lock; the store belongs
    to the loop that opened it), queues its changes as one unit and waits
    until they are durable. The writer
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
        super().__init__(clock=clock, sweep_interval=sweep_interval, history=history)
        self._on_commit = on_commit
        self._data_dir = data_dir
        self._integrity_check = integrity_check
        self._connection_class = connection_class
        # The expiry index follows the staged changes (what writes decide on);
        # the key directory only what is durable.
        self._staged = StagedChanges()
        self._durable_revision = 0
        self._writer: GroupCommitWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def path(self) -> Path:
        """The database file."""
        return self._data_dir / DATABASE_FILE

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
            loaded.connection, self._loop, self._on_durable, self._staged.fail, self._on_commit
        )
        self._writer.start()
        # Entries that expired while the store was closed go now, each at a revision of its own.
        self._expire_due(len(self._expiry))
        if len(self._expiry):
            self._sweeper.ensure_running()
        log.info(
            "sqlite store open",
            path=str(self.path),
            entries=len(self._entries),
            revision=self._revision,
        )

    async def close(self) -> None:
        """Write everything queued, stop the writer and close the database."""
        if self._closed:
            return
        self._closed = True
        await super().close()
        if self._writer is None:
            return
        await self._writer.stop()
        # Let the writer's last completions (scheduled on this loop) run.
        await asyncio.sleep(0)

    async def transact(self, txn: Transaction) -> Outcome:
        """Decide `txn` on the latest (staged) entries, queue its changes, answer once durable."""
        self._refuse_if_unusable()
        now = self._clock()
        current: dict[str, Entry | None] = {}
        waiting: list[asyncio.Future[None]] = []
        for key in txn.keys:
            entry = self._latest(key)
            staged = self._staged.get(key)
            if staged is not None:
                waiting.append(staged[1])
            if entry is not None and entry.expired(now):
                waiting.append(self._queue_removal(entry))
                entry = None
            current[key] = entry
        try:
            outcome = txn.decide(current, self._revision, now)
        except KVError:
            await _all_durable(waiting)
            raise
        if not outcome.changed:
            # Its answer rests on what it read: staged changes must be durable first.
            await _all_durable(waiting)
            return outcome
        self._revision = outcome.revision
        rows, changes = [], []
        for write, written in outcome.changes():
            row, change = row_and_change(written, write)
            rows.append(row)
            changes.append(change)
            self._track_expiry(write, current[write.key], written)
        # Queued after every staged change it read: durable only once they are.
        await durable(self._queue(rows, changes))
        return outcome

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

    def _queue_removal(self, expired: Entry) -> asyncio.Future[None]:
        """Queue the removal of an expired entry, at the next revision."""
        change = self._take_removal(expired)
        done = self._queue([Row(expired.key, None, change.revision)], [change])
        # Nobody may wait for it: its failure is the store's (fail-stop), not a caller's.
        done.add_done_callback(lambda future: future.cancelled() or future.exception())
        return done

    def _queue(self, rows: list[Row], changes: list[Change]) -> asyncio.Future[None]:
        """Queue the changes of one transaction (`rows[i]` stores `changes[i]`): one future."""
        assert self._loop is not None
        assert self._writer is not None
        done: asyncio.Future[None] = self._loop.create_future()
        self._writer.put(Pending(tuple(rows), tuple(changes), done))
        for change in changes:
            self._staged.stage(change.key, change.entry, done)
        return done

    # --- what LocalStore asks of it ------------------------------------------

    def _visible_revision(self) -> int:
        return self._durable_revision

    def _latest(self, key: str) -> Entry | None:
        staged = self._staged.get(key)
        return self._entries.raw(key) if staged is None else staged[0]

    def _sweeping(self) -> bool:
        try:
            self._refuse_if_unusable()
        except StorageUnavailable:
            return False
        return True

    def _remove_expired(self, expired: Entry) -> None:
        self._queue_removal(expired)

    # --- completions (run on the event loop) --------------------------------

    def _on_durable(self, batch: Batch) -> None:
        # Every change is visible before any writer hears of its own.
        for pending in batch:
            for change in pending.changes:
                if change.entry is None:
                    self._entries.remove(change.key)
                else:
                    self._entries.set(change.entry)
                self._history.record(change)
        self._durable_revision = batch[-1].revision
        self._staged.settle(batch)


async def _all_durable(waiting: list[asyncio.Future[None]]) -> None:
    for done in waiting:
        await durable(done)
