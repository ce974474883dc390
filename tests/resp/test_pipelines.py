"""Pipelines: plain writes applied in batches, every reply and error as if run one by one.

Each pipeline is sent in one write, so the server holds it whole and its
consecutive writes form batches; the replies must still come in order, each
command with its own error, a read seeing the writes before it, and the
session's state (AUTH, MULTI, WATCH) followed from one command to the next.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kv.adapters.memory import InMemoryStore
from kv.adapters.sqlite import SqliteStore
from kv.domain import Store
from tests.access.secured import APP_TOKEN, serve_secured
from tests.inprocess import Served, serve_in_process
from tests.resp.test_connections import Wire, command, wire

Step = tuple[tuple[str, ...], object]

STORES = {
    "memory": lambda directory: InMemoryStore(),
    "sqlite": lambda directory: SqliteStore(directory / "data"),
}


@pytest.fixture(params=sorted(STORES))
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    store: Store = STORES[request.param](tmp_path)
    async with serve_in_process("resp", store) as served:
        yield served


async def pipelined(client: Wire, steps: list[Step]) -> list[object]:
    """Send every command of `steps` in one write; read as many replies."""
    await client.send(b"".join(command(*words) for words, _ in steps))
    return [await client.reply() for _ in steps]


def error(prefix: str) -> tuple[str, str]:
    return ("error", prefix)


def matches(reply: object, expected: object) -> bool:
    """`expected` as a reply: an ("error", prefix) pair matches an error starting with it."""
    if isinstance(expected, tuple) and expected[:1] == ("error",):
        return (
            isinstance(reply, tuple)
            and reply[0] == "error"
            and str(reply[1]).startswith(expected[1])
        )
    if isinstance(expected, list) and isinstance(reply, list):
        return len(reply) == len(expected) and all(map(matches, reply, expected))
    return reply == expected


def check(replies: list[object], steps: list[Step]) -> None:
    for position, (reply, (words, expected)) in enumerate(zip(replies, steps, strict=True)):
        assert matches(reply, expected), f"#{position} {words}: {reply!r} != {expected!r}"


def fields(reply: object) -> dict[object, object]:
    """A KV.* entry answered in RESP2: a flat list of field, value, ..."""
    assert isinstance(reply, list)
    return dict(zip(reply[::2], reply[1::2], strict=True))


def unique() -> str:
    return uuid.uuid4().hex[:10]


async def test_writes_reads_and_bad_commands_answer_in_order(served: Served) -> None:
    a, b, c = f"a-{unique()}", f"b-{unique()}", f"c-{unique()}"
    steps: list[Step] = [
        (("SET", a, "1"), b"OK"),
        (("SET", b, "2"), b"OK"),
        (("GET", a), b"1"),  # a read after writes sees them
        (("SET", a), error("ERR wrong number of arguments")),  # refused before planning
        (("SET", a, "x", "EX", "0"), error("ERR")),  # refused while planning
        (("KV.PUT", c, "{not json"), error("ERR")),
        (("SET", a, "3"), b"OK"),  # the writes around the bad ones still apply
        (("SET", c, "4", "NX"), b"OK"),
        (("SET", c, "5", "NX"), None),  # decided on the write just before it
        (("KV.CREATE", c, '"6"'), error("EXISTS")),  # the store's own error, for this one only
        (("DEL", b), 1),
        (("DEL", b), 0),
        (("KV.DELETE", b), error("NOTFOUND")),
        (("UNLINK", c), 1),
        (("GET", a), b"3"),
        (("GET", b), None),
        (("GET", c), None),
    ]
    async with wire(served) as client:
        check(await pipelined(client, steps), steps)
        # Still in step with the client afterwards.
        check(await pipelined(client, [(("GET", a), b"3")]), [(("GET", a), b"3")])
    assert (await served.client.get(a)).value == "3"


async def test_revisions_follow_the_order_of_the_pipeline(served: Served) -> None:
    key = f"r-{unique()}"
    words = [("KV.PUT", key, str(n)) for n in range(40)]
    async with wire(served) as client:
        await client.send(b"".join(command(*w) for w in words))
        replies = [await client.reply() for _ in words]
    revisions = [fields(reply)[b"revision"] for reply in replies]
    values = [fields(reply)[b"value"] for reply in replies]
    assert values == [str(n).encode() for n in range(40)]
    assert revisions == sorted(revisions)
    assert len(set(revisions)) == 40
    entry = await served.client.get(key)
    assert entry.value == 39
    assert entry.revision == revisions[-1]


async def test_multi_and_watch_see_the_writes_pipelined_before_them(served: Served) -> None:
    key = f"m-{unique()}"
    steps: list[Step] = [
        (("SET", key, "1"), b"OK"),
        (("MULTI",), b"OK"),
        (("SET", key, "2"), b"QUEUED"),  # queued, not batched
        (("GET", key), b"QUEUED"),
        (("EXEC",), [b"OK", b"2"]),
        (("WATCH", key), b"OK"),
        (("SET", key, "3"), b"OK"),  # changes the watched key: EXEC must abort
        (("MULTI",), b"OK"),
        (("SET", key, "4"), b"QUEUED"),
        (("EXEC",), None),
        (("GET", key), b"3"),
    ]
    async with wire(served) as client:
        check(await pipelined(client, steps), steps)


async def test_commands_after_auth_run_as_its_principal(tmp_path: Path) -> None:
    async with serve_secured("resp", tmp_path) as served:
        mine = f"app/{unique()}"
        steps: list[Step] = [
            (("SET", mine, "1"), error("NOAUTH")),  # before AUTH
            (("AUTH", APP_TOKEN), b"OK"),
            (("SET", mine, "2"), b"OK"),  # the same pipeline, now as `app`
            (("SET", f"other/{unique()}", "3"), error("NOPERM")),  # outside app's keys
            (("DEL", mine), 1),
            (("SET", mine, "4"), b"OK"),
            (("GET", mine), b"4"),
        ]
        async with wire(served) as client:
            check(await pipelined(client, steps), steps)
