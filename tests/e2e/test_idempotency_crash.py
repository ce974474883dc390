"""Idempotency keys survive SIGKILL: a record is durable exactly when its write is.

A durable `kv-server` (sqlite) takes concurrent creates, each with an
idempotency key of its own, and is killed mid-load. After the restart every
create is sent again with its key: one that was acknowledged must be
answered its first answer again (status and body, `Idempotent-Replayed`);
one cut off by the kill must be either replayed (it was applied, with its
record) or carried out now; never 409, which would mean the write is on
disk without its record.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.servers import KvServer, start_kv_server

pytestmark = pytest.mark.e2e

WRITERS = 8
MAX_WRITES = 300  # per writer: bounds the load even if the kill came late
WRITE_TIME_LIMIT = 5.0  # seconds; the kill comes well before


def start(tmp_path: Path) -> KvServer:
    return start_kv_server(tmp_path, {"KV_STORE": "sqlite", "KV_DATA_DIR": str(tmp_path / "data")})


def create(session: aiohttp.ClientSession, url: str, writer: int, n: int) -> Any:
    headers = {"Idempotency-Key": f"crash-w{writer}-n{n}"}
    value = {"writer": writer, "n": n}
    return session.post(f"{url}/v1/kv/idem/w{writer}/n{n}", json={"value": value}, headers=headers)


async def write_until_killed(
    session: aiohttp.ClientSession, url: str, writer: int, acked: dict[tuple[int, int], bytes]
) -> int:
    """Create this writer's keys until the server goes away; returns how many were sent."""
    deadline = time.monotonic() + WRITE_TIME_LIMIT
    for n in range(MAX_WRITES):
        if time.monotonic() > deadline:
            return n
        try:
            async with create(session, url, writer, n) as response:
                body = await response.read()
                assert response.status == 201, body
            acked[(writer, n)] = body
        except (TimeoutError, aiohttp.ClientError):
            return n + 1  # this one was cut off: sent, not acknowledged
    return MAX_WRITES


async def every_writer_acknowledged(acked: dict[tuple[int, int], bytes]) -> None:
    """Wait (bounded) until each writer has had a create acknowledged."""
    deadline = time.monotonic() + WRITE_TIME_LIMIT
    while time.monotonic() < deadline:
        if len({writer for writer, _ in acked}) == WRITERS:
            return
        await asyncio.sleep(0.01)


async def test_every_write_retried_after_a_kill_is_applied_once(tmp_path: Path) -> None:
    acked: dict[tuple[int, int], bytes] = {}
    server = start(tmp_path)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            writers = [
                asyncio.create_task(write_until_killed(session, server.url, w, acked))
                for w in range(WRITERS)
            ]
            await every_writer_acknowledged(acked)
            await asyncio.sleep(random.uniform(0.2, 0.5))
            server.process.signal(signal.SIGKILL)
            sent = await asyncio.gather(*writers)
        assert server.process.wait() == -signal.SIGKILL
        assert all(count > 0 for count in sent), sent

        server = start(tmp_path)
        wrong: list[str] = []
        replayed = 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for writer, count in enumerate(sent):
                for n in range(count):
                    async with create(session, server.url, writer, n) as response:
                        body = await response.read()
                        replay = response.headers.get("Idempotent-Replayed") == "true"
                    first = acked.get((writer, n))
                    if first is None:  # cut off: applied with its record, or not at all
                        good = response.status == 201
                    else:
                        good = (response.status, body, replay) == (201, first, True)
                    if not good:
                        wrong.append(f"w{writer}/n{n}: {first!r}, then {response.status} {body!r}")
                    replayed += replay
        assert not wrong, f"{len(wrong)} retries not answered once, e.g. {wrong[:5]}"
        assert replayed >= len(acked)
        assert server.process.stop() == 0
    finally:
        server.process.stop()
