"""The writes and change reads the store-level tests make, in one place."""

from __future__ import annotations

import asyncio

from kv.domain import Change, Condition, JsonValue, Subscription, Write
from kv.domain.model import encode_value

# How long a feed may take to deliver a change: generous, for a loaded machine.
EVENT_WAIT_SECONDS = 20.0


def put(
    key: str, value: JsonValue, condition: Condition | None = None, *, ttl: int | None = None
) -> Write:
    """A put of `value` at `key`, encoded as the service encodes it."""
    return Write.put(key, value, encode_value(value), condition, ttl=ttl)


async def take(
    subscription: Subscription, count: int, *, seconds: float = EVENT_WAIT_SECONDS
) -> list[Change]:
    """The next `count` changes of `subscription`, within `seconds`."""
    changes: list[Change] = []
    async with asyncio.timeout(seconds):
        while len(changes) < count:
            changes.append(await anext(subscription))
    return changes
