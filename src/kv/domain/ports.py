"""The storage port: what the domain needs from a storage engine.

Adapters in `kv.adapters` implement it; the domain never imports them.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from kv.domain.model import Change, Entry


class Store(Protocol):
    """Keeps entries and the store-wide revision; the durable ones keep them across restarts.

    The service calls `commit` with its lock held and in revision order, so a
    store needs no lock of its own for ordering. Contract, proven for every
    adapter by `tests/contract/test_store_contract.py`:

    - `open` loads the store and returns the highest revision it ever committed
      (0 when new); `close` releases it after the last commit is durable.
    - `get` returns the entry as of the last *completed* commit, never a change
      whose commit has not completed.
    - `commit` must not block: it queues `change` after every change committed
      before it and returns a future that completes once the change is durable
      and visible to `get`, or fails with StorageUnavailable. Commits complete in
      the order they were made; once one fails, every later one fails too, so a
      caller that saw its own commit succeed knows all earlier ones did.
    - `check` raises StorageUnavailable when the store cannot serve (readiness).
    """

    async def open(self) -> int: ...

    async def close(self) -> None: ...

    async def get(self, key: str) -> Entry | None: ...

    def commit(self, change: Change) -> asyncio.Future[None]: ...

    async def check(self) -> None: ...
