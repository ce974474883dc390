"""`kv restore FILE`: write a snapshot's entries into a store through its API, then check them.

- A store that holds any key is refused (`StoreNotEmpty`) unless `force`:
  a restore over live data would mix two states.
- Entries are written as PUTs (new revisions: a store's revisions are its
  own), `concurrency` at a time, read from the file as they are sent, so
  memory does not grow with the file. An entry with a `ttl` gets the
  seconds it had left when the snapshot was taken. A PUT that failed
  without an answer is sent again: a PUT of the same value is harmless to
  repeat.
- At the end every key of the file must be in the store (a keys-only
  listing, read beside the file in key order), except one whose ttl may
  have run out since it was written: else `RestoreMismatch`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from testclient.client import KVClient, KVClientError, KVEntry, OutcomeUnknown, Unavailable
from testclient.progress import Progress
from testclient.snapshot_file import entries_of

DEFAULT_CONCURRENCY = 32
# Attempts of one PUT that fails without an answer, and the pause after the first.
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


async def _write_all(
    client: KVClient, entries: Iterator[KVEntry], concurrency: int, progress: Progress
) -> int:
    queue: asyncio.Queue[KVEntry | None] = asyncio.Queue(concurrency * 4)
    written = 0

    async def writer() -> None:
        nonlocal written
        while (entry := await queue.get()) is not None:
            await _put(client, entry)
            written += 1
            progress.update(written)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(writer())
            for entry in entries:
                await queue.put(entry)
            for _ in range(concurrency):
                await queue.put(None)
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return written


async def _put(client: KVClient, entry: KVEntry) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await client.put(entry.key, entry.value, ttl=entry.ttl)
            return
        except (Unavailable, OutcomeUnknown):
            if attempt == ATTEMPTS:
                raise
        await asyncio.sleep(RETRY_PAUSE_SECONDS * attempt)


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
