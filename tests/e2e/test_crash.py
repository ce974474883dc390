"""Crash test: SIGKILL a durable `kv-server` under concurrent writes; no acknowledged write is lost.

Every cycle starts the real console script with KV_STORE=sqlite on the same
data directory, runs WRITERS concurrent HTTP clients that each write keys of
their own (and keep overwriting one key of their own), kills the server with
SIGKILL mid-load, restarts it, and checks that every write it acknowledged is
there with its value and revision, and that the next revision is above all of
them. Writes cut off by the kill were never acknowledged: they may or may not
be there.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.servers import KvServer, start_kv_server

pytestmark = pytest.mark.e2e

CYCLES = 4
WRITERS = 16
MAX_WRITES_PER_CYCLE = 400  # per writer: bounds the load even if the kill came late
WRITE_TIME_LIMIT = 5.0  # seconds; the kill comes well before
CHECK_CONCURRENCY = 32


@dataclass
class Acknowledged:
    """What the server acknowledged: key -> (value, revision), and each writer's last overwrite."""

    writes: dict[str, tuple[Any, int]] = field(default_factory=dict)
    latest: dict[int, tuple[int, int]] = field(default_factory=dict)  # writer -> (n, revision)

    @property
    def max_revision(self) -> int:
        return max(revision for _, revision in [*self.writes.values(), *self.latest.values()])


def start(tmp_path: Path) -> KvServer:
    return start_kv_server(tmp_path, {"KV_STORE": "sqlite", "KV_DATA_DIR": str(tmp_path / "data")})


async def write_until_killed(
    session: aiohttp.ClientSession, url: str, writer: int, cycle: int, acked: Acknowledged
) -> int:
    """Write this writer's keys until the server goes away; returns how many were acknowledged."""
    deadline = time.monotonic() + WRITE_TIME_LIMIT
    count = 0
    for n in range(MAX_WRITES_PER_CYCLE):
        if time.monotonic() > deadline:
            break
        key = f"crash/w{writer}/c{cycle}/n{n}"
        value = {"writer": writer, "cycle": cycle, "n": n}
        latest_key = f"crash/w{writer}/latest"
        try:
            async with session.put(f"{url}/v1/kv/{key}", json={"value": value}) as response:
                body = await response.json()
                assert response.status == 201, body
            acked.writes[key] = (value, body["revision"])
            count += 1
            sequence = cycle * MAX_WRITES_PER_CYCLE + n
            async with session.put(
                f"{url}/v1/kv/{latest_key}", json={"value": sequence}
            ) as response:
                body = await response.json()
                assert response.status in (200, 201), body
            acked.latest[writer] = (sequence, body["revision"])
        except (TimeoutError, aiohttp.ClientError):
            return count  # the server was killed: this write was not acknowledged
    return count


async def every_writer_acknowledged(acked: Acknowledged, cycle: int) -> None:
    """Wait (bounded) until each writer has had a write of this cycle acknowledged."""
    deadline = time.monotonic() + WRITE_TIME_LIMIT
    while time.monotonic() < deadline:
        started = {key.split("/")[1] for key in acked.writes if f"/c{cycle}/" in key}
        if len(started) == WRITERS:
            return
        await asyncio.sleep(0.01)


async def check_every_write(url: str, acked: Acknowledged, keys: list[str]) -> None:
    limit = asyncio.Semaphore(CHECK_CONCURRENCY)
    lost: list[str] = []

    async def check(session: aiohttp.ClientSession, key: str) -> None:
        value, revision = acked.writes[key]
        async with limit, session.get(f"{url}/v1/kv/{key}") as response:
            body = await response.json()
        if response.status != 200 or body["value"] != value or body["revision"] != revision:
            lost.append(f"{key}: acknowledged {value!r}@{revision}, found {response.status} {body}")

    async def check_latest(session: aiohttp.ClientSession, writer: int) -> None:
        sequence, revision = acked.latest[writer]
        async with limit, session.get(f"{url}/v1/kv/crash/w{writer}/latest") as response:
            body = await response.json()
        # A later overwrite by the same writer may have landed before the kill.
        if response.status != 200 or not (
            (body["value"], body["revision"]) == (sequence, revision)
            or (body["value"] > sequence and body["revision"] > revision)
        ):
            lost.append(f"w{writer}/latest: acknowledged {sequence}@{revision}, found {body}")

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(
            *(check(session, key) for key in keys),
            *(check_latest(session, writer) for writer in acked.latest),
        )
        async with session.put(
            f"{url}/v1/kv/crash/next", json={"value": time.monotonic_ns()}
        ) as response:
            next_revision = (await response.json())["revision"]
    assert not lost, f"{len(lost)} acknowledged writes lost, e.g. {lost[:5]}"
    assert next_revision > acked.max_revision


async def test_no_acknowledged_write_is_lost_when_the_server_is_killed(tmp_path: Path) -> None:
    acked = Acknowledged()
    server = start(tmp_path)
    try:
        for cycle in range(CYCLES):
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
                writers = [
                    asyncio.create_task(write_until_killed(session, server.url, w, cycle, acked))
                    for w in range(WRITERS)
                ]
                await every_writer_acknowledged(acked, cycle)
                await asyncio.sleep(random.uniform(0.2, 0.6))
                server.process.signal(signal.SIGKILL)
                counts = await asyncio.gather(*writers)
            assert server.process.wait() == -signal.SIGKILL
            assert all(count > 0 for count in counts), f"a writer never got going: {counts}"

            server = start(tmp_path)
            await check_every_write(
                server.url, acked, [key for key in acked.writes if f"/c{cycle}/" in key]
            )
        await check_every_write(server.url, acked, list(acked.writes))
        assert server.process.stop() == 0
    finally:
        server.process.stop()
