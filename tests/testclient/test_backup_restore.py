"""`kv backup` and `kv restore` as functions, against the real service in-process.

The restore's own check is proven to catch a store that acknowledges writes
and loses some; a broken file or stream is refused whole, and a backup never
leaves a cut-off snapshot where the file should be.
"""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from testclient.backup import backup
from testclient.client import KVClient, KVClientError, NotFound, Rejected
from testclient.http_client import HttpKVClient
from testclient.progress import Progress
from testclient.restore import TXN_BYTES, TXN_OPS, RestoreMismatch, StoreNotEmpty, restore
from testclient.snapshot_file import SnapshotBroken, StreamCheck, entries_of
from tests.fakes import PagesFail
from tests.inprocess import TRANSPORT_NAMES, serve_in_process
from tests.store_writes import put
from tests.testclient.broken_stores import Change, DictStore


def snapshot_text(*entries: dict[str, object], announced: int | None = None) -> bytes:
    count = len(entries) if announced is None else announced
    lines = [{"snapshot": 1, "revision": 9, "entries": count}, *entries]
    lines.append({"end": True, "entries": count})
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


ENTRIES = [
    {"key": f"k/{n:03}", "value": {"n": n, "list": [n, None, "é"]}, "revision": n + 1}
    for n in range(150)
]


@pytest.mark.parametrize("transport", TRANSPORT_NAMES)
async def test_restore_writes_every_entry_and_keeps_the_ttl(transport: str, tmp_path: Path) -> None:
    path = tmp_path / "snapshot.ndjson"
    expiring = {"key": "t", "value": "soon", "revision": 3, "ttl": 100}
    path.write_bytes(snapshot_text(*ENTRIES, expiring))
    async with serve_in_process(transport) as served:
        restored = await restore(served.client, path, concurrency=4)
        assert (restored.written, restored.present, restored.expired) == (151, 151, 0)
        for entry in ENTRIES:
            got = await served.client.get(str(entry["key"]))
            assert got.value == entry["value"]
        ttl = (await served.client.get("t")).ttl
        assert ttl is not None
        assert 90 <= ttl <= 100


async def test_restore_refuses_a_store_with_keys_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.ndjson"
    path.write_bytes(snapshot_text(*ENTRIES[:3]))
    async with serve_in_process("http") as served:
        await served.client.put("other", 1)
        with pytest.raises(StoreNotEmpty):
            await restore(served.client, path)
        with pytest.raises(KVClientError):
            await served.client.get("k/000")
        restored = await restore(served.client, path, force=True)
        assert restored.present == 3
        assert (await served.client.get("other")).value == 1


class LosesSomeWrites(DictStore):
    """Acknowledges every write, and keeps only some of them."""

    def apply(self, change: Change) -> None:
        if change.key.endswith("7"):
            return
        super().apply(change)


async def test_restore_finds_writes_the_store_lost(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.ndjson"
    path.write_bytes(snapshot_text(*ENTRIES[:20]))
    async with serve_in_process("http", LosesSomeWrites()) as served:
        with pytest.raises(RestoreMismatch, match="k/007"):
            await restore(served.client, path)


async def test_a_backup_is_the_servers_snapshot_as_sent(tmp_path: Path) -> None:
    path = tmp_path / "backup.ndjson"
    async with serve_in_process("http") as served:
        for entry in ENTRIES:
            await served.client.put(str(entry["key"]), entry["value"])
        async with HttpKVClient(served.client_settings.addresses["http"]) as http:
            header = await backup(http, path)
            sent = b"".join([chunk async for chunk in http.snapshot()])
    assert header.entries == len(ENTRIES)
    assert path.read_bytes() == sent
    assert os.listdir(tmp_path) == ["backup.ndjson"]


async def test_a_cut_backup_leaves_the_earlier_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "backup.ndjson"
    path.write_bytes(b"an earlier backup")
    store = PagesFail()
    await store.write(put("k", 1))
    async with (
        serve_in_process("http", store) as served,
        HttpKVClient(served.client_settings.addresses["http"]) as http,
    ):
        with pytest.raises(KVClientError):
            await backup(http, path)
    assert path.read_bytes() == b"an earlier backup"
    assert os.listdir(tmp_path) == ["backup.ndjson"]


BROKEN = {
    "no end line": snapshot_text(*ENTRIES[:2]).rsplit(b"\n", 2)[0] + b"\n",
    "more announced": snapshot_text(*ENTRIES[:2], announced=3),
    "not a snapshot": b'{"key": "a", "value": 1, "revision": 1}\n',
    "after the end": snapshot_text(*ENTRIES[:2]) + b"{}\n",
    "a bad entry": snapshot_text({"key": 1, "value": 1, "revision": 1}),
    "a bad ttl": snapshot_text({"key": "a", "value": 1, "revision": 1, "ttl": 0}),
    "not JSON": snapshot_text(*ENTRIES[:2]).replace(b'"k/000"', b"k/000"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_is_refused(name: str) -> None:
    def read() -> None:
        _, entries = entries_of(io.BytesIO(BROKEN[name]))
        list(entries)

    with pytest.raises(SnapshotBroken):
        read()


@pytest.mark.parametrize("name", ["no end line", "more announced", "not a snapshot"])
def test_a_broken_stream_is_refused(name: str) -> None:
    def check() -> None:
        stream = StreamCheck()
        stream.feed(BROKEN[name])
        stream.finish()

    with pytest.raises(SnapshotBroken):
        check()


def test_a_stream_is_checked_however_it_is_cut() -> None:
    text = snapshot_text(*ENTRIES)
    chance = random.Random(7)
    for _ in range(20):
        check = StreamCheck()
        start = 0
        while start < len(text):
            end = start + chance.randrange(1, 400)
            check.feed(text[start:end])
            start = end
        assert check.finish().entries == len(ENTRIES)
        assert check.entries == len(ENTRIES)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_on_a_terminal_only() -> None:
    piped = io.StringIO()
    progress = Progress("restore", 10, piped)
    progress.update(5)
    progress.finish()
    assert piped.getvalue() == ""
    terminal = Terminal()
    progress = Progress("restore", 10, terminal)
    progress.update(5)
    progress.finish()
    assert terminal.getvalue().startswith("\rrestore: 5/10 (50%)")
    assert terminal.getvalue().endswith("\n")


class TxnOverPuts:
    """A client whose `txn` (the body of POST /v1/txn, puts only) is carried out as PUTs, and
    counted; or refused as `refusal` says. Everything else is the real client's."""

    def __init__(self, client: KVClient, refusal: type[KVClientError] | None = None) -> None:
        self._client = client
        self._refusal = refusal
        self.batches: list[list[dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def txn(self, request: dict[str, Any]) -> object:
        ops = request["success"]
        self.batches.append(ops)
        if self._refusal is not None:
            raise self._refusal("refused")
        assert set(request) == {"success"}
        for op in ops:
            assert set(op) <= {"op", "key", "value", "ttl"}
            assert op["op"] == "put"
            await self._client.put(op["key"], op["value"], ttl=op.get("ttl"))
        return None


async def test_restore_writes_transactions_of_many_puts(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.ndjson"
    large = [{"key": f"large/{n}", "value": "v" * 200_000, "revision": 1} for n in range(6)]
    huge = {"key": "m", "value": "v" * (TXN_BYTES + 1), "revision": 1}  # alone, as a PUT
    expiring = {"key": "t", "value": 1, "revision": 2, "ttl": 50}
    path.write_bytes(snapshot_text(*ENTRIES, *large, huge, expiring))
    async with serve_in_process("http") as served:
        client = TxnOverPuts(served.client)
        restored = await restore(client, path, concurrency=2)  # type: ignore[arg-type]
        assert restored.present == len(ENTRIES) + 8
        assert (await served.client.get("t")).ttl == 50
        assert len((await served.client.get("m")).value) == TXN_BYTES + 1
    sizes = [len(batch) for batch in client.batches]
    assert sum(sizes) == len(ENTRIES) + 6  # "m", and "t" left alone after it: PUTs
    assert max(sizes) == TXN_OPS
    for batch in client.batches:
        assert sum(len(json.dumps(op)) for op in batch) <= TXN_BYTES


@pytest.mark.parametrize(("refusal", "tries"), [(NotFound, 1), (Rejected, 2)])
async def test_restore_puts_what_the_service_takes_no_transaction_for(
    tmp_path: Path, refusal: type[KVClientError], tries: int
) -> None:
    """No transactions (404): PUTs from then on. A batch refused (413): that batch as PUTs."""
    path = tmp_path / "snapshot.ndjson"
    path.write_bytes(snapshot_text(*ENTRIES))  # two batches
    async with serve_in_process("http") as served:
        client = TxnOverPuts(served.client, refusal)
        restored = await restore(client, path, concurrency=1)  # type: ignore[arg-type]
        assert restored.present == len(ENTRIES)
    assert len(client.batches) == tries
