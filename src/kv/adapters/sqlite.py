"""SqliteStore: entries in a SQLite file, synced to disk before a write is acknowledged.

Layout (one database, `KV_DATA_DIR/kv.sqlite3`, plus its `-wal` file):

    entries(key TEXT PRIMARY KEY, value TEXT, revision INTEGER)   value as compact JSON
    store(id = 1, revision INTEGER)                                the store-wide revision

The revision lives in its own row because a delete consumes a revision but
leaves no entry behind: after a restart the next revision must still be above
every revision ever acknowledged, deletes included.

Durability settings, and why:

- WAL journal: a commit appends to one file and syncs it once, instead of
  writing the page twice (rollback journal + database) with two syncs.
- `synchronous=FULL`: the WAL is fsynced at every commit. With `NORMAL`, WAL
  mode syncs only at checkpoints, so the database stays consistent after a
  power loss but may lose the last commits; those were acknowledged to
  clients, which is exactly what this store promises never to do.
- `locking_mode=EXCLUSIVE`: this process owns the file. The in-memory key
  directory below is only right if nobody else writes the database, and a
  second `kv-server` on the same KV_DATA_DIR fails at start-up instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kv.config import ConfigError
from kv.domain import Change, Entry, StorageUnavailable
from kv.domain.model import encode_value

log = logging.getLogger("kv.sqlite")

DATABASE_FILE = "kv.sqlite3"
SCHEMA_VERSION = 1
# A batch bigger than this is split: it bounds the transaction (values may be
# 1 MiB each) without making anyone wait for more than one extra sync.
MAX_BATCH = 1024
# How long a second process waits for the file lock before start-up fails.
LOCK_TIMEOUT_SECONDS = 2.0

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS entries (
        key      TEXT PRIMARY KEY,
        value    TEXT NOT NULL,
        revision INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS store (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        revision INTEGER NOT NULL
    )""",
    "INSERT OR IGNORE INTO store (id, revision) VALUES (1, 0)",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
_UPSERT = (
    "INSERT INTO entries (key, value, revision) VALUES {rows} "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision"
)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A change waiting for the writer, with its JSON already encoded and the future to complete."""

    change: Change
    value_json: str | None
    done: asyncio.Future[None]


_CLOSE = None  # the queue item that tells the writer to stop


class SqliteStore:
    """A durable `Store` on Python's sqlite3: group commit in a writer thread, reads from memory.

    Writes: `commit` puts the change on a queue and returns at once. One
    writer thread owns the write connection; it takes everything waiting on
    the queue at that moment and writes it as ONE transaction with ONE sync
    (group commit), so concurrent writers share the cost of an fsync instead
    of queueing for one each. It then completes the batch's futures on the
    event loop, in order.

    Reads: the whole key directory (every key with its entry) is kept in a
    dict, loaded at `open` and updated on the event loop when a batch is
    durable and *before* its futures complete. So `get` never touches the
    disk on the event loop, and it sees exactly the completed commits: never a
    change that a crash could still undo. This is Bitcask's keydir (Redis
    with an append-only file is the same idea): the disk is for surviving
    restarts, memory for serving. The cost is that the data set must fit in
    memory, which suits a KV service with values of at most a few MiB.

    Faults are fail-stop, as PostgreSQL does after a failed fsync: once a
    write fails, what is on disk is no longer known, so that batch and every
    later commit fail with StorageUnavailable and `check` reports the store
    unusable until the process is restarted (and reloads what is on disk). A
    batch is one transaction, so it is applied whole or not at all.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        integrity_check: bool = False,
        connection_class: type[sqlite3.Connection] = sqlite3.Connection,
        on_commit: Callable[[int, float], None] = lambda changes, seconds: None,
    ) -> None:
        """`connection_class`: the sqlite3 connection type (tests inject faults with it);
        `on_commit(changes, seconds)`: told of each transaction written and synced (metrics)."""
        self._on_commit = on_commit
        self._data_dir = data_dir
        self._path = data_dir / DATABASE_FILE
        self._integrity_check = integrity_check
        self._connection_class = connection_class
        self._entries: dict[str, Entry] = {}
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: StorageUnavailable | None = None
        self._closed = False
        self._transactions = 0
        self._changes_written = 0

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def transactions(self) -> int:
        """Transactions (one sync each) committed since `open`: group commit at work."""
        return self._transactions

    @property
    def changes_written(self) -> int:
        """Changes made durable since `open`."""
        return self._changes_written

    async def open(self) -> int:
        """Open (or create) the database, load every entry, start the writer; the last revision.

        Raises ConfigError naming KV_DATA_DIR when the directory cannot be
        written or the file is not a usable database.
        """
        self._loop = asyncio.get_running_loop()
        connection, entries, revision = await asyncio.to_thread(self._open_database)
        self._entries = entries
        self._writer = threading.Thread(
            target=self._write_loop, args=(connection,), name="kv-sqlite-writer", daemon=True
        )
        self._writer.start()
        log.info(
            "sqlite store open",
            extra={"path": str(self._path), "entries": len(entries), "revision": revision},
        )
        return revision

    async def close(self) -> None:
        """Write everything queued, stop the writer and close the database."""
        if self._closed:
            return
        self._closed = True
        if self._writer is None:
            return
        self._queue.put(_CLOSE)
        await asyncio.to_thread(self._writer.join)
        # Let the writer's last completions (scheduled on this loop) run.
        await asyncio.sleep(0)

    async def get(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def key_count(self) -> int:
        """The keys held (the `kv_keys` metric)."""
        return len(self._entries)

    def commit(self, change: Change) -> asyncio.Future[None]:
        """Queue `change` for the writer; the future completes once it is synced and visible."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._failure is not None:
            done.set_exception(StorageUnavailable(str(self._failure)))
        elif self._closed or self._writer is None:
            done.set_exception(StorageUnavailable("the store is not open"))
        else:
            # Encoded here, not in the writer, so the writer thread spends its
            # time in SQLite (which releases the GIL) rather than in Python.
            value_json = (
                None if change.entry is None else encode_value(change.entry.value).decode("utf-8")
            )
            self._queue.put(_Pending(change, value_json, done))
        return done

    async def check(self) -> None:
        """Raise StorageUnavailable once a write has failed, or when the store is not open."""
        if self._failure is not None:
            raise StorageUnavailable(str(self._failure))
        if self._closed or self._writer is None or not self._writer.is_alive():
            raise StorageUnavailable("the sqlite store is not open")

    # --- start-up (runs in a worker thread) ---------------------------------

    def _open_database(self) -> tuple[sqlite3.Connection, dict[str, Entry], int]:
        try:
            self._data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                "KV_DATA_DIR", f"cannot create {self._data_dir}: {exc.strerror or exc}"
            ) from None
        try:
            connection = sqlite3.connect(
                self._path,
                timeout=LOCK_TIMEOUT_SECONDS,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
                check_same_thread=False,  # opened here, then used by the writer thread only
                factory=self._connection_class,
            )
        except sqlite3.Error as exc:
            raise ConfigError("KV_DATA_DIR", f"cannot open {self._path}: {exc}") from None
        try:
            return (connection, *self._prepare(connection))
        except sqlite3.Error as exc:
            connection.close()
            raise ConfigError("KV_DATA_DIR", f"cannot use {self._path}: {exc}") from None
        except ConfigError:
            connection.close()
            raise

    def _prepare(self, connection: sqlite3.Connection) -> tuple[dict[str, Entry], int]:
        connection.execute("PRAGMA locking_mode = EXCLUSIVE")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise ConfigError("KV_DATA_DIR", f"{self._path}: cannot switch to WAL (got {mode})")
        connection.execute("PRAGMA synchronous = FULL")
        if self._integrity_check:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise ConfigError(
                    "KV_DATA_DIR",
                    f"{self._path} failed PRAGMA integrity_check: {'; '.join(problems[:5])}",
                )
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise ConfigError(
                "KV_DATA_DIR",
                f"{self._path} has schema version {version}, expected {SCHEMA_VERSION}",
            )
        # BEGIN IMMEDIATE takes the write lock now: an unwritable directory or
        # a database held by another process fails here, at start-up.
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.rollback()
            raise
        entries = {
            key: Entry(key, json.loads(value), revision)
            for key, value, revision in connection.execute(
                "SELECT key, value, revision FROM entries"
            )
        }
        (revision,) = connection.execute("SELECT revision FROM store WHERE id = 1").fetchone()
        # Both are written in every transaction; the max guards against a
        # store row edited by hand.
        revision = max([revision, *(entry.revision for entry in entries.values())])
        return entries, revision

    # --- the writer thread --------------------------------------------------

    def _write_loop(self, connection: sqlite3.Connection) -> None:
        try:
            closing = False
            while not closing:
                batch: list[_Pending] = []
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
                    self._write_batch(connection, batch)
        finally:
            connection.close()

    def _write_batch(self, connection: sqlite3.Connection, batch: list[_Pending]) -> None:
        if self._failure is None:
            started = time.perf_counter()
            try:
                self._write_transaction(connection, batch)
            except Exception as exc:  # any failure: stop writing, see the class docstring
                log.exception("sqlite write failed; the store refuses writes until restarted")
                self._failure = StorageUnavailable(f"storage write failed: {exc}")
        assert self._loop is not None
        if self._failure is None:
            self._on_commit(len(batch), time.perf_counter() - started)
            self._transactions += 1
            self._changes_written += len(batch)
            self._loop.call_soon_threadsafe(self._complete, batch)
        else:
            self._loop.call_soon_threadsafe(self._fail, batch, self._failure)

    def _write_transaction(self, connection: sqlite3.Connection, batch: list[_Pending]) -> None:
        # Only the last change of each key in the batch matters on disk.
        last: dict[str, _Pending] = {pending.change.key: pending for pending in batch}
        upserts: list[str | int] = []
        deletes: list[str] = []
        for key, pending in last.items():
            if pending.value_json is None:
                deletes.append(key)
            else:
                upserts += (key, pending.value_json, pending.change.revision)
        # One statement per kind, whatever the batch size: sqlite3 releases the
        # GIL around each statement step and must take it back after, which
        # costs a wait while the event loop runs. One multi-row statement per
        # batch (not executemany, one step per row) keeps that to a few waits.
        connection.execute("BEGIN IMMEDIATE")
        try:
            if upserts:
                rows = ", ".join(["(?, ?, ?)"] * (len(upserts) // 3))
                connection.execute(_UPSERT.format(rows=rows), upserts)
            if deletes:
                marks = ", ".join("?" * len(deletes))
                connection.execute(f"DELETE FROM entries WHERE key IN ({marks})", deletes)
            connection.execute(
                "UPDATE store SET revision = ? WHERE id = 1", (batch[-1].change.revision,)
            )
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.rollback()
            raise

    # --- completions (run on the event loop) --------------------------------

    def _complete(self, batch: list[_Pending]) -> None:
        # Every change is visible before any caller hears of its own.
        for pending in batch:
            change = pending.change
            if change.entry is None:
                self._entries.pop(change.key, None)
            else:
                self._entries[change.key] = change.entry
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(None)

    @staticmethod
    def _fail(batch: list[_Pending], failure: StorageUnavailable) -> None:
        for pending in batch:
            if not pending.done.done():
                # A fresh exception each: one instance raised in many tasks
                # would collect all their tracebacks.
                pending.done.set_exception(StorageUnavailable(str(failure)))
