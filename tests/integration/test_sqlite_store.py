"""SqliteStore beyond the port contract: durability, group commit, fail-stop, start-up faults."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from kv.adapters.sqlite import DATABASE_FILE, SqliteStore
from kv.config import ConfigError
from kv.domain import (
    Condition,
    Entry,
    KeyExists,
    KeyValueService,
    OutcomeUnknown,
    StorageUnavailable,
    Transaction,
    Write,
)
from kv.domain.model import encode_value


def put(key: str, value: Any, condition: Condition | None = None) -> Write:
    return Write.put(key, value, encode_value(value), condition)


async def write_all(store: SqliteStore, writes: list[Write]) -> list[Any]:
    """Start every write at once (so they queue together), and gather their answers."""
    return await asyncio.gather(*(store.write(write) for write in writes), return_exceptions=True)


async def test_entries_and_revision_survive_reopen_when_the_last_write_is_a_delete(
    tmp_path: Path,
) -> None:
    service = KeyValueService(SqliteStore(tmp_path))
    await service.start()
    await asyncio.gather(*(service.put(f"k{i}", {"i": i}) for i in range(50)))
    await service.delete("k7")
    await service.stop()

    reopened = SqliteStore(tmp_path)
    await reopened.open()
    assert reopened.revision == 51
    assert await reopened.get("k7") is None
    assert await reopened.get("k49") is not None
    assert sum([await reopened.get(f"k{i}") is not None for i in range(50)]) == 49
    await reopened.close()


async def test_writes_waiting_together_share_one_transaction(tmp_path: Path) -> None:
    armed = threading.Event()
    first_commit_reached = threading.Event()
    release_first_commit = threading.Event()

    class GatedConnection(sqlite3.Connection):
        """Holds the first COMMIT until the test has queued every other write."""

        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql == "COMMIT" and armed.is_set() and not first_commit_reached.is_set():
                first_commit_reached.set()
                release_first_commit.wait(5)
            return super().execute(sql, *args)

    store = SqliteStore(tmp_path, connection_class=GatedConnection)
    await store.open()
    armed.set()
    writes = asyncio.ensure_future(write_all(store, [put(f"k{i}", i) for i in range(1, 201)]))
    await asyncio.to_thread(first_commit_reached.wait, 5)
    release_first_commit.set()
    await writes

    # The first write may have gone alone; the 199 that queued behind its sync go in one.
    assert store.changes_written == 200
    assert store.transactions <= 2
    await store.close()
    reopened = SqliteStore(tmp_path)
    await reopened.open()
    assert reopened.revision == 200
    assert await reopened.get("k200") == Entry("k200", 200, 200)
    await reopened.close()


def failing_disk(statement: str = "COMMIT") -> tuple[type[sqlite3.Connection], threading.Event]:
    """A connection class whose `statement` fails like a failed write once the event is set."""
    broken = threading.Event()

    class FailingConnection(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql.startswith(statement) and broken.is_set():
                raise sqlite3.OperationalError("disk I/O error")
            return super().execute(sql, *args)

    return FailingConnection, broken


@pytest.mark.parametrize(
    ("statement", "error"),
    [("COMMIT", OutcomeUnknown), ("INSERT INTO entries", StorageUnavailable)],
    ids=["commit-fails-outcome-unknown", "statement-fails-unavailable"],
)
async def test_a_failed_write_stops_the_store(
    tmp_path: Path, statement: str, error: type[Exception]
) -> None:
    """A failed COMMIT may be on disk (OutcomeUnknown); a failure before it is not."""
    connection_class, broken = failing_disk(statement)
    store = SqliteStore(tmp_path, connection_class=connection_class)
    await store.open()
    await store.write(put("kept", "before"))

    broken.set()
    failed = await write_all(store, [put("kept", "after"), put("new", "x")])
    assert [type(result) for result in failed] == [error, error]
    broken.clear()  # the disk "recovers", but the store no longer trusts it
    with pytest.raises(StorageUnavailable):
        await store.write(put("later", "y"))
    with pytest.raises(StorageUnavailable):
        await store.check()
    assert await store.get("kept") == Entry("kept", "before", 1)
    assert await store.get("new") is None
    await store.close()

    reopened = SqliteStore(tmp_path)
    await reopened.open()
    assert reopened.revision == 1
    assert await reopened.get("kept") == Entry("kept", "before", 1)
    assert await reopened.get("new") is None
    assert await reopened.get("later") is None
    await reopened.check()
    await reopened.close()


async def test_the_service_reports_a_failed_write_and_refuses_later_ones(tmp_path: Path) -> None:
    connection_class, broken = failing_disk()
    service = KeyValueService(SqliteStore(tmp_path, connection_class=connection_class))
    await service.start()
    await service.put("k", 1)
    broken.set()
    results = await asyncio.gather(
        *(service.put("k", i) for i in range(2, 10)), return_exceptions=True
    )
    assert all(isinstance(result, OutcomeUnknown | StorageUnavailable) for result in results)
    assert isinstance(results[0], OutcomeUnknown)
    with pytest.raises(StorageUnavailable):
        await service.put("k", 10)
    assert (await service.get("k")).value == 1
    with pytest.raises(StorageUnavailable):
        await service.check()
    await service.stop()


async def test_writes_decide_on_staged_changes_and_answer_only_once_durable(
    tmp_path: Path,
) -> None:
    """While a change waits for its sync, later writes chain on it, and nobody hears early."""
    release = threading.Event()

    class HeldConnection(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql == "COMMIT":
                release.wait(30)
            return super().execute(sql, *args)

    release.set()
    store = SqliteStore(tmp_path, connection_class=HeldConnection)
    await store.open()
    release.clear()
    first = asyncio.ensure_future(store.write(put("k", 1)))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(store.write(put("k", 2, Condition.at_revision(1))))
    conflict = asyncio.ensure_future(store.write(Write.create("k", 3, b"3")))
    same = asyncio.ensure_future(store.write(put("k", 2)))
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in (first, second, conflict, same))
    assert await store.get("k") is None  # readers see only durable changes
    release.set()
    assert (await first).revision == 1
    assert (await second).revision == 2
    assert (await same).revision == 2
    with pytest.raises(KeyExists):
        await conflict
    assert await store.get("k") == Entry("k", 2, 2)
    await store.close()


async def test_a_closed_store_refuses_commits(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    await store.open()
    await store.close()
    with pytest.raises(StorageUnavailable):
        await store.write(put("k", 1))
    with pytest.raises(StorageUnavailable):
        await store.check()


async def test_a_file_that_is_not_a_database_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / DATABASE_FILE).write_bytes(b"this is not a database, " * 100)
    with pytest.raises(ConfigError, match="KV_DATA_DIR") as raised:
        await SqliteStore(tmp_path).open()
    assert raised.value.variable == "KV_DATA_DIR"


async def test_a_data_dir_that_cannot_be_created_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="KV_DATA_DIR"):
        await SqliteStore(tmp_path / "file" / "data").open()


async def test_a_second_store_on_the_same_files_is_refused(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path)
    await first.open()
    with pytest.raises(ConfigError, match="KV_DATA_DIR"):
        await SqliteStore(tmp_path).open()
    await first.close()


async def test_the_integrity_check_passes_a_healthy_database_and_refuses_a_damaged_one(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path)
    await store.open()
    await write_all(store, [put(f"key-{i:05}", "v" * 200) for i in range(1, 2001)])
    await store.close()

    healthy = SqliteStore(tmp_path, integrity_check=True)
    await healthy.open()
    assert healthy.revision == 2000
    await healthy.close()

    # Overwrite the middle of the file (b-tree pages of the entries table).
    path = tmp_path / DATABASE_FILE
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8192] = b"\xff" * 8192
    path.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="KV_DATA_DIR"):
        await SqliteStore(tmp_path, integrity_check=True).open()


async def test_a_batch_keeps_the_last_change_of_each_key_and_values_exactly(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path)
    await store.open()
    values: list[Any] = [10**30, 2**53 + 1, 1e300, -0.5, "é\n\x00🔑", {"a": [None, True]}, []]
    writes = [
        put("put-then-delete", 1),
        Write.delete("put-then-delete"),
        put("\x00nul/key", "first"),
        put("\x00nul/key", "second"),
        *(put(f"value-{i}", value) for i, value in enumerate(values)),
    ]
    await write_all(store, writes)
    assert store.transactions <= 2  # they queued together
    await store.close()

    reopened = SqliteStore(tmp_path)
    await reopened.open()
    assert reopened.revision == 4 + len(values)
    assert await reopened.get("put-then-delete") is None
    assert await reopened.get("\x00nul/key") == Entry("\x00nul/key", "second", 4)
    for i, value in enumerate(values):
        entry = await reopened.get(f"value-{i}")
        assert entry == Entry(f"value-{i}", value, 5 + i)
        assert type(entry.value) is type(value)
    await reopened.close()


async def test_a_database_of_schema_1_is_upgraded_in_place(tmp_path: Path) -> None:
    """A data dir written before ttl existed opens, keeps its entries and takes ttls."""
    connection = sqlite3.connect(tmp_path / DATABASE_FILE)
    connection.executescript(
        """
        CREATE TABLE entries (key TEXT PRIMARY KEY, value TEXT NOT NULL, revision INTEGER NOT NULL)
            WITHOUT ROWID;
        CREATE TABLE store (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL);
        INSERT INTO entries VALUES ('old', '{"a":[1]}', 3);
        INSERT INTO store VALUES (1, 4);
        PRAGMA user_version = 1;
        """
    )
    connection.close()

    store = SqliteStore(tmp_path)
    await store.open()
    assert store.revision == 4
    assert await store.get("old") == Entry("old", {"a": [1]}, 3)
    written = await store.write(Write.put("new", 1, b"1", ttl=100))
    await store.close()

    reopened = SqliteStore(tmp_path)
    await reopened.open()
    assert await reopened.get("new") == written.entry
    assert written.entry is not None
    assert written.entry.expires_at is not None
    await reopened.close()
    check = sqlite3.connect(tmp_path / DATABASE_FILE)
    assert check.execute("PRAGMA user_version").fetchone()[0] == 2
    check.close()


async def test_the_value_json_of_the_write_is_what_is_stored(tmp_path: Path) -> None:
    """The store writes the bytes the service made (once), not an encoding of its own."""
    store = SqliteStore(tmp_path)
    await store.open()
    # Not compact on purpose: only these exact bytes can have produced the row below.
    await store.write(Write.put("k", {"a": [1, "é"]}, '{"a": [1, "é"]}'.encode()))
    await store.close()
    database = sqlite3.connect(tmp_path / DATABASE_FILE)
    [(stored,)] = database.execute("SELECT value FROM entries WHERE key = 'k'").fetchall()
    database.close()
    assert stored == '{"a": [1, "é"]}'


async def test_each_transaction_is_reported_and_keys_are_counted(tmp_path: Path) -> None:
    commits: list[tuple[int, float]] = []
    store = SqliteStore(
        tmp_path, on_commit=lambda changes, seconds: commits.append((changes, seconds))
    )
    await store.open()
    await write_all(store, [put(f"k{i}", i) for i in range(20)])
    await store.write(Write.delete("k0"))
    assert sum(changes for changes, _ in commits) == store.changes_written == 21
    assert len(commits) == store.transactions
    assert all(seconds >= 0 for _, seconds in commits)
    assert store.key_count() == 19
    await store.close()


async def test_a_batch_is_one_sql_transaction(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    await store.open()
    before = store.transactions
    results = await store.transact_many(
        [Transaction.single(put(f"b{i}", i)) for i in range(100)]
        + [Transaction.single(Write.create("b0", 0, b"0"))]
    )
    assert store.transactions == before + 1
    assert store.changes_written == 100
    assert isinstance(results[-1], KeyExists)
    await store.close()


async def test_a_batch_whose_commit_fails_is_unknown_whole_and_not_half_kept(
    tmp_path: Path,
) -> None:
    connection_class, broken = failing_disk("COMMIT")
    store = SqliteStore(tmp_path, connection_class=connection_class)
    await store.open()
    await store.write(put("kept", "before"))
    broken.set()
    results = await store.transact_many(
        [Transaction.single(put("kept", "after")), Transaction.single(put("new", "x"))]
    )
    assert [type(result) for result in results] == [OutcomeUnknown, OutcomeUnknown]
    await store.close()
    reopened = SqliteStore(tmp_path)
    await reopened.open()
    # The failed COMMIT wrote nothing here: neither write is on disk, not one of the two.
    assert await reopened.get("kept") == Entry("kept", "before", 1)
    assert await reopened.get("new") is None
    await reopened.close()
