"""`kv restore FILE`: write a snapshot's entries into a store through its API, then check them.

- A store that holds any key is refused (`StoreNotEmpty`) unless `force`:
  a restore over live data would mix two states.
- Entries are written in transactions of up to TXN_OPS puts (`POST
  /v1/txn`; PUTs one by one where the service has no transactions), with new
  revisions (a store's revisions are its own), `concurrency` requests at a
  time, read from the file as they are sent, so memory does not grow with
  the file. An entry with a `ttl` gets the seconds it had left when the
  snapshot was taken. A write that failed without an answer is sent again:
  a put of the same value is harmless to repeat.
- At the end every key of the file must be in the store (a keys-only
  listing, read beside the file in key order), except one whose ttl may
  have run out since it was written: else `RestoreMismatch`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from testclient.client import (
    KVClient,
    KVClientError,
    KVEntry,
    NotFound,
    OutcomeUnknown,
    Rejected,
    Unavailable,
)
from testclient.progress import Progress
from testclient.snapshot_file import entries_of

DEFAULT_CONCURRENCY = 16
# A transaction holds at most this many puts, and about this many bytes of JSON: well within
# the service's limits (128 ops; values together at most KV_MAX_VALUE_BYTES, 1 MiB by default).
TXN_OPS = 128
TXN_BYTES = 512 * 1024
OP_OVERHEAD_BYTES = 48
# Attempts of one write (a transaction or a PUT) that fails without an answer; the first pause.
ATTEMPTS = 4
RETRY_PAUSE_SECONDS = 0.2
LIST_PAGE = 1000


class StoreNotEmpty(KVClientError):
    """The store holds keys, and the restore was not forced."""


class RestoreMismatch(KVClientError):
    """After the restore, a key of the snapshot is not in the store."""


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore did: entries written, found in the store after, gone by their ttl."""

    written: int
    present: int
    expired: int


async def restore(
    client: KVClient, path: Path, *, force: bool = False, concurrency: int = DEFAULT_CONCURRENCY
) -> Restored:
    """Write the snapshot at `path` into the store `client` talks to, and check it is there."""
    with path.open("rb") as file:
        header, entries = entries_of(file)
        if not force:
            page = await client.list("", limit=1, keys_only=True)
            if page.entries:
                raise StoreNotEmpty(
                    f"the store already holds keys ({page.entries[0].key!r}, ...); "
                    "restore into an empty store, or pass --force to write over it"
                )
        started = time.time()
        progress = Progress("restore", header.entries)
        try:
            written = await _write_all(client, entries, concurrency, progress)
        finally:
            progress.finish()
    present, expired = await _verify(client, path, started)
    return Restored(written, present, expired)


def _op_bytes(entry: KVEntry) -> int:
    """About the bytes of the entry's op in a transaction's JSON body."""
    value = json.dumps(entry.value, ensure_ascii=False, separators=(",", ":"))
    return len(value.encode()) + len(entry.key.encode()) + OP_OVERHEAD_BYTES


def _batches(entries: Iterator[KVEntry]) -> Iterator[list[KVEntry]]:
    """The entries in groups of at most TXN_OPS and about TXN_BYTES (a large one alone)."""
    batch: list[KVEntry] = []
    size = 0
    for entry in entries:
        entry_bytes = _op_bytes(entry)
        if batch and (len(batch) == TXN_OPS or size + entry_bytes > TXN_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry_bytes
    if batch:
        yield batch


class _Writer:
    """Writes batches of entries: one transaction each where the service takes them, else PUTs.

    A service without transactions (404), or one that refuses a batch as too
    large (its value limit is below TXN_BYTES), gets that batch as PUTs.
    """

    def __init__(self, client: KVClient) -> None:
        self._client = client
        self._transactions = True

    async def write(self, batch: list[KVEntry]) -> None:
        if self._transactions and len(batch) > 1:
            try:
                await _again(lambda: self._txn(batch))
                return
            except NotFound:
                self._transactions = False
            except Rejected:
                pass
        for entry in batch:
            await _again(partial(self._client.put, entry.key, entry.value, ttl=entry.ttl))

    async def _txn(self, batch: list[KVEntry]) -> None:
        ops = [
            {"op": "put", "key": e.key, "value": e.value}
            | ({} if e.ttl is None else {"ttl": e.ttl})
            for e in batch
        ]
        await self._client.txn({"success": ops})


async def _again(write: Callable[[], Awaitable[object]]) -> None:
    """`write`, sent again while it fails without an answer (a put of the same value is harmless
    to repeat)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await write()
            return
        except (Unavailable, OutcomeUnknown):
            if attempt == ATTEMPTS:
                raise
        await asyncio.sleep(RETRY_PAUSE_SECONDS * attempt)


async def _write_all(
    client: KVClient, entries: Iterator[KVEntry], concurrency: int, progress: Progress
) -> int:
    queue: asyncio.Queue[list[KVEntry] | None] = asyncio.Queue(concurrency * 2)
    writer = _Writer(client)
    written = 0

    async def write() -> None:
        nonlocal written
        while (batch := await queue.get()) is not None:
            await writer.write(batch)
            written += len(batch)
            progress.update(written)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(write())
            for batch in _batches(entries):
                await queue.put(batch)
            for _ in range(concurrency):
                await queue.put(None)
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return written


async def _verify(client: KVClient, path: Path, started: float) -> tuple[int, int]:
    """(keys of the file in the store, keys missing that may have expired); RestoreMismatch."""
    present = expired = 0
    listed = _keys(client)
    current = await anext(listed, None)
    with path.open("rb") as file:
        _, entries = entries_of(file)
        for entry in entries:
            while current is not None and current < entry.key:
                current = await anext(listed, None)
            if current == entry.key:
                present += 1
            elif entry.ttl is not None and started + entry.ttl <= time.time():
                expired += 1
            else:
                raise RestoreMismatch(f"key {entry.key!r} is not in the store after the restore")
    return present, expired


async def _keys(client: KVClient) -> AsyncIterator[str]:
    """Every key of the store, in key order, a page at a time."""
    cursor = None
    while True:
        page = await client.list("", limit=LIST_PAGE, cursor=cursor, keys_only=True)
        for entry in page.entries:
            yield entry.key
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
