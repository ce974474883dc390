"""Idempotency keys across two kv-server replicas over one etcd cluster.

A write's answer is kept in etcd with the write, so the other replica
replays it; 100 clients sending the same writes with the same keys at once,
through both replicas, apply each write exactly once and all get its answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.etcd.cluster import shared_cluster
from tests.etcd.test_replicas import start_replicas
from tests.servers import KvServer

pytestmark = pytest.mark.e2e

CLIENTS = 100
KEYS = 20  # each sent by CLIENTS // KEYS clients
# A replica admits a bounded number of requests at once and answers more 503 (nothing done):
# a client sends its write again, with its key, until it is served.
MAX_ATTEMPTS = 200


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[KvServer]]:
    started = start_replicas(tmp_path, shared_cluster())
    yield started
    for replica in started:
        assert replica.process.stop() == 0, replica.process.log()


async def send(
    http: aiohttp.ClientSession, method: str, url: str, key: str, **options: object
) -> tuple[int, bytes, bool]:
    headers = {"Idempotency-Key": key}
    async with http.request(method, url, headers=headers, **options) as response:  # type: ignore[arg-type]
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        return response.status, await response.read(), replayed


async def test_the_other_replica_replays_the_answer(replicas: list[KvServer]) -> None:
    a, b = (replica.url for replica in replicas)
    txn = {"success": [{"op": "put", "key": "t", "value": 1}, {"op": "get", "key": "t"}]}
    async with aiohttp.ClientSession() as http:
        for method, path, body in [
            ("PUT", "/v1/kv/k", {"value": 1}),
            ("POST", "/v1/kv/c", {"value": [1]}),
            ("DELETE", "/v1/kv/c", None),
            ("POST", "/v1/txn", txn),
        ]:
            key = f"{method}{path}"
            first = await send(http, method, a + path, key, json=body)
            assert first[0] in (200, 201), first
            assert not first[2]
            again = await send(http, method, b + path, key, json=body)
            assert again == (first[0], first[1], True)
        reused = await send(http, "PUT", b + "/v1/kv/k", "PUT/v1/kv/k", json={"value": 2})
        assert reused[0] == 422, reused


async def test_concurrent_clients_with_the_same_keys_apply_each_write_once(
    replicas: list[KvServer],
) -> None:
    urls = [replica.url for replica in replicas]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:

        async def client(n: int) -> tuple[int, tuple[int, bytes, bool]]:
            key = n % KEYS
            url = f"{urls[n % len(urls)]}/v1/kv/once/{key}"
            for _ in range(MAX_ATTEMPTS):
                answer = await send(http, "POST", url, f"once-{key}", json={"value": key})
                if answer[0] != 503:
                    break
                await asyncio.sleep(0.02)
            return key, answer

        answers = await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    for key in range(KEYS):
        mine = [answer for k, answer in answers if k == key]
        assert {status for status, _, _ in mine} == {201}, mine  # a second create is 409
        assert len({body for _, body, _ in mine}) == 1, mine
        assert sum(not replayed for _, _, replayed in mine) == 1, mine
