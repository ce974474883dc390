"""watch: a watcher sees the run's own writes in order, with their revisions, and a reconnect
after the last event received misses nothing and repeats nothing.

The run writes a sequence of puts, a create and deletes under a prefix of its
own (and one key outside it), each answered with its revision (a delete's
own revision is not answered: it lies between the revisions of the writes
around it, as the run writes one at a time). A watch from the first write's
revision must then report exactly these changes, in that order, and nothing
for the key outside the prefix. A first watcher takes the first half of the
events and leaves; more is written while nobody watches; a watch resumed
after the last event it received (HTTP: `Last-Event-ID`; gRPC: from the
next revision) must report exactly the rest, and a watch from the first
revision again must replay the whole sequence, through another replica when
the run names several (every write went through the first). Every sequence
ends with an end marker write, so a missing event is found without waiting
out a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from testclient.client import KVClient, KVClientError, KVEvent
from testclient.scenarios.context import ScenarioContext
from testclient.transports import CLIENTS

# Generous: a loaded machine is slow; the wait ends at the end marker's event.
EVENT_WAIT_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class Expected:
    """An event the run's writes must cause: a put at exactly `revision`, or a delete between
    `after` and `before` (the revisions of the writes around it)."""

    type: str
    key: str
    revision: int | None = None
    after: int = 0
    before: int = 0

    def matches(self, event: KVEvent) -> bool:
        if (event.type, event.key) != (self.type, self.key):
            return False
        if self.revision is not None:
            return event.revision == self.revision
        return self.after < event.revision < self.before


class Writer:
    """Makes the run's writes one at a time, and what a watcher must see of them."""

    def __init__(self, client: KVClient) -> None:
        self._client = client
        self.expected: list[Expected] = []
        self._pending_delete: str | None = None

    async def put(self, key: str, value: object) -> int:
        revision = (await self._client.put(key, value)).entry.revision
        self._settle(revision)
        self.expected.append(Expected("put", key, revision))
        return revision

    async def create(self, key: str, value: object) -> int:
        revision = (await self._client.create(key, value)).revision
        self._settle(revision)
        self.expected.append(Expected("put", key, revision))
        return revision

    async def delete(self, key: str) -> None:
        """Delete `key`; its event's revision is bounded by the next write (see `_settle`)."""
        assert self._pending_delete is None, "write something between two deletes"
        await self._client.delete(key)
        self._pending_delete = key

    def _settle(self, revision: int) -> None:
        if self._pending_delete is not None:
            after = self.expected[-1].revision or 0
            self.expected.append(Expected("delete", self._pending_delete, None, after, revision))
            self._pending_delete = None


async def _events(
    client: KVClient, prefix: str, count: int, *, end: int, **start: int
) -> list[KVEvent] | KVClientError:
    """The first `count` events of a watch (fewer if the one at revision `end` comes first)."""
    events: list[KVEvent] = []
    stream = client.watch(prefix, **start)
    try:
        async with contextlib.aclosing(stream), asyncio.timeout(EVENT_WAIT_SECONDS):
            async for event in stream:
                events.append(event)
                if len(events) >= count or event.revision >= end:
                    break
    except TimeoutError:
        pass  # what arrived is judged below
    except KVClientError as exc:
        return exc
    return events


def _judge(run: ScenarioContext, name: str, expected: list[Expected], got: object) -> None:
    if not isinstance(got, list):
        run.checks.record(name, False, f"the watch failed: {got}")
        return
    passed = len(got) == len(expected) and all(map(Expected.matches, expected, got))
    shown = [f"{e.type} {e.key.rpartition('/')[2]}@{e.revision}" for e in got]
    wanted = [
        f"{e.type} {e.key.rpartition('/')[2]}@{e.revision or f'{e.after}<r<{e.before}'}"
        for e in expected
    ]
    run.checks.record(name, passed, f"expected {wanted}, got {shown}")


async def watch(run: ScenarioContext) -> None:
    if not CLIENTS[run.client.transport].watch:
        run.checks.record(
            "watch is served only where the protocol has it",
            True,
            f"the {run.client.transport} API has no watch: nothing to prove over it",
        )
        return
    prefix = run.key("watched/")
    outside = run.key("watched-not/x")
    writer = Writer(run.client)
    first = await writer.put(run.key("watched/a"), {"n": 1})
    await writer.put(run.key("watched/b"), "two")
    await writer.put(run.key("watched/a"), {"n": 3})
    await run.client.put(outside, "not watched")
    await writer.delete(run.key("watched/b"))
    await writer.create(run.key("watched/c"), [4])
    half = len(writer.expected)
    await writer.put(run.key("watched/end-1"), True)
    seen = await _events(
        run.client, prefix, half, end=writer.expected[-1].revision or 0, from_revision=first
    )
    _judge(
        run,
        "a watch from the first write's revision sees each write, in order, with its revision",
        writer.expected[:half],
        seen,
    )

    # While nobody watches: more changes, then resume after the last event received.
    await writer.put(run.key("watched/a"), {"n": 5})
    await writer.delete(run.key("watched/a"))
    await writer.put(run.key("watched/d"), None)
    end = await writer.put(run.key("watched/end-2"), True)
    last = seen[-1].revision if isinstance(seen, list) and seen else first
    resumed = await _events(run.client, prefix, len(writer.expected), end=end, after_revision=last)
    _judge(
        run,
        "a watch resumed after the last event received misses nothing and repeats nothing",
        writer.expected[half:],
        resumed,
    )

    # The last replica named: with one, a new connection to it.
    async with run.replica_client(run.replica_count - 1) as other:
        replayed = await _events(
            other, prefix, len(writer.expected) + 1, end=end, from_revision=first
        )
    through = " (through another replica)" if run.replica_count > 1 else ""
    _judge(
        run,
        "a watch from the first revision again replays every change, and nothing "
        f"outside its prefix{through}",
        writer.expected,
        replayed,
    )
