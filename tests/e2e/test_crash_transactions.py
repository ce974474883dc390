"""Crash test for transactions: SIGKILL a sqlite `kv-server` while clients write pairs of keys in
one transaction each; after every restart each pair is wholly there or wholly absent.

Each writer sends `POST /v1/txn` putting `a` and `b` of a pair of its own (and moving its two
counters `x`, `y` so that x + y stays 0) until the server is killed. After the restart: every
acknowledged transaction is there with one revision for both keys; every pair the writers sent
(acknowledged or cut off by the kill) has both keys or neither; every writer's counters still
sum to 0.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.servers import KvServer, start_kv_server

pytestmark = pytest.mark.e2e

CYCLES = 3
WRITERS = 12
MAX_TXNS_PER_CYCLE = 300  # per writer: bounds the load even if the kill came late
WRITE_TIME_LIMIT = 5.0


@dataclass
class Sent:
    """Pairs sent (maybe applied), pairs acknowledged with their revision."""

    sent: set[str] = field(default_factory=set)
    acknowledged: dict[str, int] = field(default_factory=dict)
    going: asyncio.Event = field(default_factory=asyncio.Event)  # one acknowledged this cycle


def start(tmp_path: Path) -> KvServer:
    return start_kv_server(tmp_path, {"KV_STORE": "sqlite", "KV_DATA_DIR": str(tmp_path / "data")})


def transaction(pair: str, writer: int, sequence: int) -> dict[str, object]:
    base = f"pairs/w{writer}/"
    return {
        "success": [
            {"op": "put", "key": f"{pair}/a", "value": sequence},
            {"op": "put", "key": f"{pair}/b", "value": sequence},
            {"op": "put", "key": base + "x", "value": sequence},
            {"op": "put", "key": base + "y", "value": -sequence},
        ]
    }


async def write_until_killed(
    session: aiohttp.ClientSession, url: str, writer: int, cycle: int, sent: Sent
) -> int:
    deadline = time.monotonic() + WRITE_TIME_LIMIT
    count = 0
    for n in range(MAX_TXNS_PER_CYCLE):
        if time.monotonic() > deadline:
            break
        pair = f"pairs/w{writer}/c{cycle}/n{n}"
        sequence = cycle * MAX_TXNS_PER_CYCLE + n + 1
        sent.sent.add(pair)
        try:
            async with session.post(
                f"{url}/v1/txn", json=transaction(pair, writer, sequence)
            ) as response:
                body = await response.json()
                assert response.status == 200, body
        except (TimeoutError, aiohttp.ClientError):
            return count  # killed: this one may or may not be on disk
        results = body["results"]
        assert {result["revision"] for result in results} == {body["revision"]}, body
        sent.acknowledged[pair] = body["revision"]
        sent.going.set()
        count += 1
    return count


async def check(url: str, sent: Sent) -> None:
    entries: dict[str, dict[str, object]] = {}
    async with aiohttp.ClientSession() as session:
        params = {"prefix": "pairs/", "limit": "1000"}
        while True:
            async with session.get(f"{url}/v1/kv", params=params) as response:
                page = await response.json()
                assert response.status == 200, page
            entries.update({entry["key"]: entry for entry in page["entries"]})
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
    problems: list[str] = []
    for pair in sent.sent:
        a, b = entries.get(f"{pair}/a"), entries.get(f"{pair}/b")
        if (a is None) != (b is None):
            problems.append(f"{pair}: half a transaction on disk: a={a}, b={b}")
        elif a is not None and b is not None and a["revision"] != b["revision"]:
            problems.append(f"{pair}: a at {a['revision']}, b at {b['revision']}")
        if pair in sent.acknowledged and (a is None or a["revision"] != sent.acknowledged[pair]):
            problems.append(f"{pair}: acknowledged at {sent.acknowledged[pair]}, found {a}")
    for writer in range(WRITERS):
        x, y = entries.get(f"pairs/w{writer}/x"), entries.get(f"pairs/w{writer}/y")
        if x is not None and (y is None or x["value"] + y["value"] != 0):  # type: ignore[operator]
            problems.append(f"writer {writer}: x={x}, y={y}")
    assert not problems, f"{len(problems)} problems, e.g. {problems[:5]}"


async def test_a_transaction_is_all_or_nothing_when_the_server_is_killed(tmp_path: Path) -> None:
    sent = Sent()
    server = start(tmp_path)
    try:
        for cycle in range(CYCLES):
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
                writers = [
                    asyncio.create_task(write_until_killed(session, server.url, w, cycle, sent))
                    for w in range(WRITERS)
                ]
                sent.going.clear()
                await asyncio.wait_for(sent.going.wait(), WRITE_TIME_LIMIT)
                await asyncio.sleep(random.uniform(0.2, 0.6))
                server.process.signal(signal.SIGKILL)
                counts = await asyncio.gather(*writers)
            assert server.process.wait() == -signal.SIGKILL
            assert sum(counts) > 0, "no transaction was acknowledged before the kill"
            server = start(tmp_path)
            await check(server.url, sent)
        assert server.process.stop() == 0
    finally:
        server.process.stop()
