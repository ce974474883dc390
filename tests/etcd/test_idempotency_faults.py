"""etcd members killed under creates sent with idempotency keys: each retry applies its write once.

The cluster is this test's own (3 members). Writers send creates of unique
keys, each with an idempotency key of its own, through both kv-server
replicas while members are SIGKILLed (the leader every other time) and
restarted. Every create that was not answered 201 (504 `outcome_unknown`,
503, or a connection lost) is then sent again with its key, through the
other replica: each must be answered 201, the first answer replayed when
the first attempt was applied, never 409 (applied twice, or applied without
its record). Afterwards every key holds its value. The figures are printed
(`pytest -s`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.etcd.cluster import EtcdCluster
from tests.etcd.test_faults import kill_and_restart
from tests.etcd.test_replicas import start_replicas

pytestmark = pytest.mark.e2e

KILLS = 4
WRITERS_PER_REPLICA = 2
MAX_WRITES = 10_000  # bound on the load, whatever the speed of the machine
RETRY_ATTEMPTS = 50  # a retry answered 503/504 again (the cluster settling) is sent again
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)


@dataclass
class Load:
    """What the writers saw: keys answered 201, keys to retry, and why."""

    acked: set[str] = field(default_factory=set)
    retry: list[tuple[str, int]] = field(default_factory=list)  # key, replica that failed it
    failures: Counter[str] = field(default_factory=Counter)
    sent: int = 0


async def create(http: aiohttp.ClientSession, url: str, key: str) -> tuple[int, str]:
    """POST a create of `key` with idempotency key `key`: (status, error code or "replayed")."""
    headers = {"Idempotency-Key": key}
    value = {"value": key}
    try:
        async with http.post(f"{url}/v1/kv/{key}", json=value, headers=headers) as response:
            body = await response.json()
            if response.status >= 400:
                return response.status, body["error"]["code"]
            return response.status, response.headers.get("Idempotent-Replayed", "")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 0, type(exc).__name__


async def writer(
    http: aiohttp.ClientSession, url: str, replica: int, name: str, load: Load, stop: asyncio.Event
) -> None:
    for n in range(MAX_WRITES):
        if stop.is_set() or load.sent >= MAX_WRITES:
            return
        key = f"{name}-{n}"
        load.sent += 1
        status, code = await create(http, url, key)
        if status == 201:
            load.acked.add(key)
        else:
            load.failures[f"{status} {code}"] += 1
            load.retry.append((key, replica))


async def test_writes_retried_with_their_key_after_member_kills_apply_once(tmp_path: Path) -> None:
    cluster = EtcdCluster(tmp_path / "etcd").start()
    replicas = start_replicas(tmp_path, cluster, timeout="1")
    urls = [replica.url for replica in replicas]
    load, kills, stop = Load(), list[str](), asyncio.Event()
    retried: Counter[str] = Counter()
    wrong: list[str] = []
    try:
        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as http:
            writers = [
                asyncio.create_task(writer(http, url, r, f"r{r}w{w}", load, stop))
                for r, url in enumerate(urls)
                for w in range(WRITERS_PER_REPLICA)
            ]
            try:
                await asyncio.to_thread(kill_and_restart, cluster, kills, KILLS)
            finally:
                stop.set()
                await asyncio.gather(*writers)
            for key, failed_on in load.retry:
                other = urls[(failed_on + 1) % len(urls)]
                for _ in range(RETRY_ATTEMPTS):
                    status, code = await create(http, other, key)
                    if status not in (0, 503, 504):
                        break
                    await asyncio.sleep(0.1)
                retried[f"{status} {code or 'applied now'}"] += 1
                if status != 201:
                    wrong.append(f"{key}: retried, answered {status} {code}")
            missing = 0
            for key in [*load.acked, *(key for key, _ in load.retry)]:
                async with http.get(f"{urls[0]}/v1/kv/{key}") as response:
                    body = await response.json()
                missing += (response.status, body.get("value")) != (200, key)
    finally:
        for replica in replicas:
            replica.process.stop()
        cluster.stop()
    print(
        f"\netcd idempotency fault test: {len(kills)} kills ({', '.join(kills)}); "
        f"{load.sent} creates sent, {len(load.acked)} answered 201; first attempts failed "
        f"{dict(load.failures)}; their retries answered {dict(retried)}"
    )
    assert not wrong, wrong[:5]
    assert missing == 0
