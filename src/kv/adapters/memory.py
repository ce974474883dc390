"""InMemoryStore: entries in a dict; fast, and gone when the process ends."""

from __future__ import annotations

import asyncio

from kv.domain import Change, Entry


class InMemoryStore:
    """A `Store` that keeps everything in one dict. Commits complete at once."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._revision = 0

    async def open(self) -> int:
        return self._revision

    async def close(self) -> None:
        return None

    async def get(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def commit(self, change: Change) -> asyncio.Future[None]:
        if change.entry is None:
            self._entries.pop(change.key, None)
        else:
            self._entries[change.key] = change.entry
        self._revision = change.revision
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def check(self) -> None:
        return None
