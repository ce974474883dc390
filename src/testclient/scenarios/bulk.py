"""Many writes or deletes at once, over a few connections of their own, for scenarios that
need thousands of keys: bounded in concurrency, so a slow service queues nothing unbounded."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, suppress
from typing import Any, TypeVar

from testclient.client import KVClient, KVEntry, NotFound
from testclient.scenarios.context import ScenarioContext

T = TypeVar("T")

CONNECTIONS = 4
IN_FLIGHT = 16  # requests outstanding at once, over all connections


async def write_all(run: ScenarioContext, items: Sequence[tuple[str, Any]]) -> dict[str, KVEntry]:
    """Put every (key, value) of `items`; the entries written, by key. A client error stops it."""

    async def put(client: KVClient, item: tuple[str, Any]) -> KVEntry:
        return (await client.put(*item)).entry

    entries = await _each(run, put, items)
    return {entry.key: entry for entry in entries}


async def delete_all(run: ScenarioContext, keys: Sequence[str]) -> None:
    """Delete every key of `keys` that exists."""

    async def delete(client: KVClient, key: str) -> None:
        with suppress(NotFound):
            await client.delete(key)

    await _each(run, delete, keys)


async def _each(
    run: ScenarioContext,
    operation: Callable[[KVClient, T], Awaitable[Any]],
    items: Sequence[T],
) -> list[Any]:
    results: list[Any] = [None] * len(items)
    queue = iter(range(len(items)))

    async def worker(client: KVClient) -> None:
        for index in queue:  # workers share the one iterator: each item is taken once
            results[index] = await operation(client, items[index])

    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(run.fresh_client()) for _ in range(CONNECTIONS)]
        try:
            async with asyncio.TaskGroup() as group:
                for n in range(IN_FLIGHT):
                    group.create_task(worker(clients[n % CONNECTIONS]))
        except BaseExceptionGroup as failed:
            # The first error stops the rest; raised as itself, so that callers
            # tell Unavailable from a finding as they do for a single call.
            raise failed.exceptions[0] from None
    return results
