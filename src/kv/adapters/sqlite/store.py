"""SqliteStore: a durable `Store`, synced to disk before a write is acknowledged."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kv.adapters.history import HistoryLimits
from kv.adapters.keydir import SWEEP_INTERVAL_SECONDS, ExpiryIndex, KeyDirectory
from kv.adapters.local import LocalStore
from kv.adapters.records import IdempotencyRecords
from kv.adapters.sqlite.database import DATABASE_FILE, RecordRow, Row, open_database
from kv.adapters.sqlite.staged import Commit, StagedChanges, durable, record_row, row_and_change
from kv.adapters.sqlite.writer import Batch, GroupCommitWriter, Pending
from kv.domain import Entry, KVError, Outcome, StorageUnavailable, Transaction
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

    Idempotency records are kept in memory too, decided on like staged
    entries, and written in the same SQL transaction as the changes they
    answer for; a replay of a record not yet durable waits for it.

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
        self._records = IdempotencyRecords(loaded.records)
        self._revision = self._durable_revision = loaded.revision
        self._history.reset(loaded.revision)
        self._writer = GroupCommitWriter(
            loaded.connection, self._loop, self._on_durable, self._staged.fail, self._on_commit
        )
        self._writer.start()
        # Entries that expired while the store was closed go now, each at a revision of its own.
        self._expire_due(len(self._expiry))
        if len(self._expiry) or len(self._records):
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
        commit = self._commit()
        try:
            decided, waiting = self._decide(txn, commit)
        finally:  # what was staged is queued, whatever happened after
            self._queue_commit(commit)
        # Its answer rests on what it read and on its own changes: all durable first.
        await _all_durable(waiting)
        if isinstance(decided, KVError):
            raise decided
        return decided

    async def transact_many(self, txns: Sequence[Transaction]) -> list[Outcome | KVError]:
        """Decide each of `txns` in turn, as `transact` would, and queue them as ONE commit.

        Each takes its own revision and decides on what the ones before it
        staged; the writer writes the commit in one SQL transaction and one
        sync, and each transaction is answered once what it rests on is durable.
        """
        commit = self._commit()
        decided: list[tuple[Outcome | KVError, list[asyncio.Future[None]]]] = []
        try:
            for txn in txns:
                try:
                    self._refuse_if_unusable()
                except StorageUnavailable as exc:
                    decided.append((exc, []))
                    continue
                decided.append(self._decide(txn, commit))
        finally:  # what was staged is queued, whatever happened after
            self._queue_commit(commit)
        results: list[Outcome | KVError] = []
        for result, waiting in decided:
            try:
                await _all_durable(waiting)
            except KVError as exc:
                result = exc
            results.append(result)
        return results

    def _decide(
        self, txn: Transaction, commit: Commit
    ) -> tuple[Outcome | KVError, list[asyncio.Future[None]]]:
        """Decide `txn` and stage its changes in `commit`, on the event loop with no await.

        Answers its outcome (or the error its rules raised) and the futures its
        answer waits for: the staged changes it read, and its own.
        """
        now = self._clock()
        current: dict[str, Entry | None] = {}
        waiting: list[asyncio.Future[None]] = []
        for key in txn.keys:
            entry = self._latest(key)
            staged = self._staged.get(key)
            if staged is not None:
                waiting.append(staged[1])
            if entry is not None and entry.expired(now):
                self._stage_removal(commit, entry)
                waiting.append(commit.done)
                entry = None
            current[key] = entry
        recorded = self._recorded(txn)
        if recorded is not None:  # a replay answers only once the record is durable
            waiting += self._staged.record_pending(recorded.key)
        try:
            outcome = txn.decide(current, self._revision, now, recorded)
        except KVError as exc:
            return exc, waiting
        if outcome.record is not None:
            self._keep_record(outcome.record)
            commit.add_record(record_row(outcome.record), self._staged)
            waiting.append(commit.done)
        if outcome.changed:
            self._revision = outcome.revision
            waiting.append(commit.done)
        for write, written in outcome.changes():
            row, change = row_and_change(written, write)
            commit.add(row, change, self._staged)
            self._track_expiry(write, current[write.key], written)
        return outcome, waiting

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

    def _commit(self) -> Commit:
        assert self._loop is not None
        return Commit(self._loop.create_future())

    def _stage_removal(self, commit: Commit, expired: Entry) -> None:
        """Stage in `commit` the removal of an expired entry, at a revision of its own."""
        change = self._take_removal(expired)
        commit.add(Row(expired.key, None, change.revision), change, self._staged)

    def _queue_commit(self, commit: Commit) -> None:
        """Hand `commit` to the writer (after everything queued before it), unless it is empty."""
        if not commit.rows and not commit.records:
            return
        assert self._writer is not None
        rows, changes, records = tuple(commit.rows), tuple(commit.changes), tuple(commit.records)
        self._writer.put(Pending(rows, changes, commit.done, records, self._revision))

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
        commit = self._commit()
        self._stage_removal(commit, expired)
        self._queue_commit(commit)

    def _remove_records(self, keys: Sequence[str]) -> None:
        commit = self._commit()
        for key in keys:
            self._records.remove(key)
            commit.add_record(RecordRow(key, None), self._staged)
        self._queue_commit(commit)

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
    for done in dict.fromkeys(waiting):
        await durable(done)
