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
from kv.domain import Change, Entry, KeyValueService, StorageUnavailable


def put(key: str, value: Any, revision: int) -> Change:
    return Change(key, Entry(key, value, revision), revision)


async def test_entries_and_revision_survive_reopen_when_the_last_write_is_a_delete(
    tmp_path: Path,
) -> None:
    service = KeyValueService(SqliteStore(tmp_path))
    await service.start()
    await asyncio.gather(*(service.put(f"k{i}", {"i": i}) for i in range(50)))
    await service.delete("k7")
    await service.stop()

    reopened = SqliteStore(tmp_path)
    assert await reopened.open() == 51
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
    futures = [store.commit(put(f"k{i}", i, i)) for i in range(1, 201)]
    release_first_commit.set()
    await asyncio.gather(*futures)

    # The first write may have gone alone; the 199 that queued behind its sync go in one.
    assert store.changes_written == 200
    assert store.transactions <= 2
    await store.close()
    reopened = SqliteStore(tmp_path)
    assert await reopened.open() == 200
    assert await reopened.get("k200") == Entry("k200", 200, 200)
    await reopened.close()


def failing_disk() -> tuple[type[sqlite3.Connection], threading.Event]:
    """A connection class whose COMMIT fails like a failed fsync once the event is set."""
    broken = threading.Event()

    class FailingConnection(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql == "COMMIT" and broken.is_set():
                raise sqlite3.OperationalError("disk I/O error")
            return super().execute(sql, *args)

    return FailingConnection, broken


async def test_a_failed_write_stops_the_store_and_applies_nothing(tmp_path: Path) -> None:
    connection_class, broken = failing_disk()
    store = SqliteStore(tmp_path, connection_class=connection_class)
    await store.open()
    await store.commit(put("kept", "before", 1))

    broken.set()
    failed = [store.commit(put("kept", "after", 2)), store.commit(put("new", "x", 3))]
    for future in failed:
        with pytest.raises(StorageUnavailable):
            await future
    broken.clear()  # the disk "recovers", but the store no longer trusts it
    with pytest.raises(StorageUnavailable):
        await store.commit(put("later", "y", 4))
    with pytest.raises(StorageUnavailable):
        await store.check()
    assert await store.get("kept") == Entry("kept", "before", 1)
    assert await store.get("new") is None
    await store.close()

    reopened = SqliteStore(tmp_path)
    assert await reopened.open() == 1
    assert await reopened.get("kept") == Entry("kept", "before", 1)
    assert await reopened.get("new") is None
    assert await reopened.get("later") is None
    await reopened.check()
    await reopened.close()


async def test_the_service_reports_storage_unavailable_for_a_failed_write(tmp_path: Path) -> None:
    connection_class, broken = failing_disk()
    service = KeyValueService(SqliteStore(tmp_path, connection_class=connection_class))
    await service.start()
    await service.put("k", 1)
    broken.set()
    results = await asyncio.gather(
        *(service.put("k", i) for i in range(2, 10)), return_exceptions=True
    )
    assert all(isinstance(result, StorageUnavailable) for result in results)
    assert (await service.get("k")).value == 1
    with pytest.raises(StorageUnavailable):
        await service.check()
    await service.stop()


async def test_a_closed_store_refuses_commits(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    await store.open()
    await store.close()
    with pytest.raises(StorageUnavailable):
        await store.commit(put("k", 1, 1))
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
    await asyncio.gather(*(store.commit(put(f"key-{i:05}", "v" * 200, i)) for i in range(1, 2001)))
    await store.close()

    healthy = SqliteStore(tmp_path, integrity_check=True)
    assert await healthy.open() == 2000
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
    changes = [
        put("put-then-delete", 1, 1),
        Change("put-then-delete", None, 2),
        put("\x00nul/key", "first", 3),
        put("\x00nul/key", "second", 4),
        *(put(f"value-{i}", value, 5 + i) for i, value in enumerate(values)),
    ]
    await asyncio.gather(*(store.commit(change) for change in changes))
    await store.close()

    reopened = SqliteStore(tmp_path)
    assert await reopened.open() == 4 + len(values)
    assert await reopened.get("put-then-delete") is None
    assert await reopened.get("\x00nul/key") == Entry("\x00nul/key", "second", 4)
    for i, value in enumerate(values):
        entry = await reopened.get(f"value-{i}")
        assert entry == Entry(f"value-{i}", value, 5 + i)
        assert type(entry.value) is type(value)
    await reopened.close()
