"""Members of the etcd cluster killed while clients transfer between accounts through two
replicas: every audit, and the end, sees the whole total.

The cluster is this test's own (3 members). Clients move random amounts between a few accounts
with `POST /v1/txn` (read both, then write both guarded by the revisions read), through both
kv-server replicas, while members are SIGKILLed (the leader every other time) and restarted.
A transfer answered `unavailable` or `outcome_unknown` moved the money or did not, never half of
it; an auditor reads every account in one transaction throughout. Bounded in kills, transfers
and time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.etcd.cluster import EtcdCluster
from tests.etcd.test_faults import kill_and_restart
from tests.etcd.test_replicas import start_replicas

pytestmark = pytest.mark.e2e

KILLS = 4
ACCOUNTS = [f"bank/{n}" for n in range(4)]
BALANCE = 100
CLIENTS_PER_REPLICA = 2
MAX_TRANSFERS = 20_000  # bound on the load, whatever the speed of the machine
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)


@dataclass
class Bank:
    transfers: int = 0
    sent: int = 0
    audits: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


async def txn(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """The answer of one transaction, or None when it failed as etcd's faults allow (counted)."""
    async with http.post(f"{url}/v1/txn", json=body) as response:
        answer: dict[str, Any] = await response.json()
    if response.status == 200:
        return answer
    if response.status in (503, 504):
        return None
    raise AssertionError(f"{response.status} {answer}")


async def client(
    http: aiohttp.ClientSession, url: str, seed: int, bank: Bank, stop: asyncio.Event
) -> None:
    rng = random.Random(seed)
    while not stop.is_set() and bank.sent < MAX_TRANSFERS:
        bank.sent += 1
        source, target = rng.sample(ACCOUNTS, 2)
        read = await txn(
            http, url, {"success": [{"op": "get", "key": k} for k in (source, target)]}
        )
        if read is None:
            bank.errors["read"] += 1
            continue
        have, want = read["results"]
        amount = rng.randint(1, 10)
        moved = await txn(
            http,
            url,
            {
                "compare": [
                    {"key": source, "revision": have["revision"]},
                    {"key": target, "revision": want["revision"]},
                ],
                "success": [
                    {"op": "put", "key": source, "value": have["value"] - amount},
                    {"op": "put", "key": target, "value": want["value"] + amount},
                ],
            },
        )
        if moved is None:
            bank.errors["transfer"] += 1
        elif moved["succeeded"]:
            bank.transfers += 1


async def audit(http: aiohttp.ClientSession, url: str) -> int | None:
    seen = await txn(http, url, {"success": [{"op": "get", "key": key} for key in ACCOUNTS]})
    return None if seen is None else sum(result["value"] for result in seen["results"])


async def auditor(http: aiohttp.ClientSession, url: str, bank: Bank, stop: asyncio.Event) -> None:
    while not stop.is_set():
        total = await audit(http, url)
        if total is not None:
            bank.audits.append(total)
        await asyncio.sleep(0.01)


async def test_transfers_keep_the_total_while_members_are_killed(tmp_path: Path) -> None:
    cluster = EtcdCluster(tmp_path / "etcd").start()
    replicas = start_replicas(tmp_path, cluster, timeout="1")
    bank, kills, stop = Bank(), list[str](), asyncio.Event()
    try:
        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as http:
            opened = await txn(
                http,
                replicas[0].url,
                {"success": [{"op": "put", "key": k, "value": BALANCE} for k in ACCOUNTS]},
            )
            assert opened is not None
            tasks = [
                asyncio.create_task(client(http, replica.url, r * 10 + c, bank, stop))
                for r, replica in enumerate(replicas)
                for c in range(CLIENTS_PER_REPLICA)
            ]
            tasks += [asyncio.create_task(auditor(http, r.url, bank, stop)) for r in replicas]
            try:
                await asyncio.to_thread(kill_and_restart, cluster, kills, KILLS)
                before = bank.transfers
                await asyncio.sleep(1.0)  # transfers go on after the last restart
            finally:
                stop.set()
                await asyncio.gather(*tasks)
            final = None
            deadline = time.monotonic() + 30
            while final is None and time.monotonic() < deadline:
                final = await audit(http, replicas[1].url)
    finally:
        for replica in replicas:
            replica.process.stop()
        cluster.stop()
    total = BALANCE * len(ACCOUNTS)
    print(
        f"\netcd transfer fault test: {len(kills)} kills ({', '.join(kills)}); "
        f"{bank.sent} transfers tried, {bank.transfers} made; {len(bank.audits)} audits; "
        f"failures {dict(bank.errors)}"
    )
    assert final == total
    assert bank.audits
    assert set(bank.audits) == {total}
    assert bank.transfers > before  # the service recovered
