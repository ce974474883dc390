"""The SQLite file of `SqliteStore`: its layout, durability settings, start-up and transactions.

Layout (one database, `KV_DATA_DIR/kv.sqlite3`, plus its `-wal` file):

    entries(key TEXT PRIMARY KEY, value TEXT, revision INTEGER, expires_at REAL)
        value as compact JSON; expires_at in Unix seconds, NULL: never
    store(id = 1, revision INTEGER)      the store-wide revision
    idempotency(key TEXT PRIMARY KEY, record BLOB, expires_at REAL)
        the idempotency records (kv.domain.idempotency), written in the
        same transaction as the changes they answer for

Schema version 1 (before ttl) is upgraded in place at start-up: the column
is added, NULL for every entry.

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
- `locking_mode=EXCLUSIVE`: this process owns the file. The store's
  in-memory key directory is only right if nobody else writes the database,
  and a second `kv-server` on the same KV_DATA_DIR fails at start-up instead.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kv.config import ConfigError
from kv.domain import Entry, IdempotencyRecord

DATABASE_FILE = "kv.sqlite3"
SCHEMA_VERSION = 2
# How long a second process waits for the file lock before start-up fails.
LOCK_TIMEOUT_SECONDS = 2.0

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS entries (
        key      TEXT PRIMARY KEY,
        value    TEXT NOT NULL,
        revision INTEGER NOT NULL,
        expires_at REAL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS store (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        revision INTEGER NOT NULL
    )""",
    "INSERT OR IGNORE INTO store (id, revision) VALUES (1, 0)",
    """CREATE TABLE IF NOT EXISTS idempotency (
        key        TEXT PRIMARY KEY,
        record     BLOB NOT NULL,
        expires_at REAL NOT NULL
    ) WITHOUT ROWID""",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
_UPSERT = (
    "INSERT INTO entries (key, value, revision, expires_at) VALUES {rows} "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision, "
    "expires_at = excluded.expires_at"
)
_UPGRADE_FROM_1 = "ALTER TABLE entries ADD COLUMN expires_at REAL"


class CommitFailed(Exception):
    """COMMIT itself failed: the transaction may or may not be on disk (a failed fsync)."""


@dataclass(frozen=True, slots=True)
class Row:
    """The state of one key after a transaction: its value's JSON, revision, expiry; or deleted."""

    key: str
    value_json: str | None  # None: the key is deleted
    revision: int
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class RecordRow:
    """An idempotency record to write (`record`: its bytes) or to remove (None)."""

    key: str
    record: bytes | None
    expires_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Loaded:
    """What start-up read: the open connection, every entry and record, the store's revision."""

    connection: sqlite3.Connection
    entries: dict[str, Entry]
    revision: int
    records: tuple[IdempotencyRecord, ...] = ()


def open_database(
    data_dir: Path,
    *,
    integrity_check: bool,
    connection_class: type[sqlite3.Connection],
) -> Loaded:
    """Open (or create) the database in `data_dir` and load it; ConfigError naming KV_DATA_DIR."""
    path = data_dir / DATABASE_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            "KV_DATA_DIR", f"cannot create {data_dir}: {exc.strerror or exc}"
        ) from None
    try:
        connection = sqlite3.connect(
            path,
            timeout=LOCK_TIMEOUT_SECONDS,
            isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
            check_same_thread=False,  # opened here, then used by the writer thread only
            factory=connection_class,
        )
    except sqlite3.Error as exc:
        raise ConfigError("KV_DATA_DIR", f"cannot open {path}: {exc}") from None
    try:
        entries, revision = _prepare(connection, path, integrity_check)
        records = tuple(
            IdempotencyRecord.decode(key, bytes(record))
            for key, record in connection.execute("SELECT key, record FROM idempotency")
        )
    except sqlite3.Error as exc:
        connection.close()
        raise ConfigError("KV_DATA_DIR", f"cannot use {path}: {exc}") from None
    except ConfigError:
        connection.close()
        raise
    return Loaded(connection, entries, revision, records)


def _prepare(
    connection: sqlite3.Connection, path: Path, integrity_check: bool
) -> tuple[dict[str, Entry], int]:
    connection.execute("PRAGMA locking_mode = EXCLUSIVE")
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise ConfigError("KV_DATA_DIR", f"{path}: cannot switch to WAL (got {mode})")
    connection.execute("PRAGMA synchronous = FULL")
    if integrity_check:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise ConfigError(
                "KV_DATA_DIR", f"{path} failed PRAGMA integrity_check: {'; '.join(problems[:5])}"
            )
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, 1, SCHEMA_VERSION):
        raise ConfigError(
            "KV_DATA_DIR", f"{path} has schema version {version}, expected {SCHEMA_VERSION}"
        )
    # BEGIN IMMEDIATE takes the write lock now: an unwritable directory or
    # a database held by another process fails here, at start-up.
    connection.execute("BEGIN IMMEDIATE")
    try:
        if version == 1:
            connection.execute(_UPGRADE_FROM_1)
        for statement in _SCHEMA:
            connection.execute(statement)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.rollback()
        raise
    entries = {
        key: Entry(key, json.loads(value), revision, expires_at)
        for key, value, revision, expires_at in connection.execute(
            "SELECT key, value, revision, expires_at FROM entries"
        )
    }
    (revision,) = connection.execute("SELECT revision FROM store WHERE id = 1").fetchone()
    # Both are written in every transaction; the max guards against a store
    # row edited by hand.
    revision = max([revision, *(entry.revision for entry in entries.values())])
    return entries, revision


def write_transaction(
    connection: sqlite3.Connection,
    rows: Iterable[Row],
    revision: int,
    records: Iterable[RecordRow] = (),
) -> None:
    """Write `rows`, `records` and the store's `revision` as ONE transaction with one sync.

    Raises CommitFailed when COMMIT fails (the outcome is unknown), and the
    sqlite3 error itself when anything before it fails (nothing was written).
    """
    upserts: list[str | int | float | None] = []
    deletes: list[str] = []
    for row in rows:
        if row.value_json is None:
            deletes.append(row.key)
        else:
            upserts += (row.key, row.value_json, row.revision, row.expires_at)
    # One statement per kind, whatever the batch size: sqlite3 releases the
    # GIL around each statement step and must take it back after, which
    # costs a wait while the event loop runs. One multi-row statement per
    # batch (not executemany, one step per row) keeps that to a few waits.
    connection.execute("BEGIN IMMEDIATE")
    try:
        if upserts:
            marks = ", ".join(["(?, ?, ?, ?)"] * (len(upserts) // 4))
            connection.execute(_UPSERT.format(rows=marks), upserts)
        if deletes:
            marks = ", ".join("?" * len(deletes))
            connection.execute(f"DELETE FROM entries WHERE key IN ({marks})", deletes)
        connection.execute("UPDATE store SET revision = ? WHERE id = 1", (revision,))
        _write_records(connection, records)
    except BaseException:
        if connection.in_transaction:
            connection.rollback()
        raise
    try:
        connection.execute("COMMIT")
    except Exception as exc:
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                connection.rollback()
        raise CommitFailed(str(exc)) from exc


def _write_records(connection: sqlite3.Connection, records: Iterable[RecordRow]) -> None:
    kept = [(r.key, r.record, r.expires_at) for r in records if r.record is not None]
    removed = [(r.key,) for r in records if r.record is None]
    if kept:
        connection.executemany(
            "INSERT OR REPLACE INTO idempotency (key, record, expires_at) VALUES (?, ?, ?)", kept
        )
    if removed:
        connection.executemany("DELETE FROM idempotency WHERE key = ?", removed)
