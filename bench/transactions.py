"""A 2-key transfer against two single PUTs, over HTTP: `python -m bench.transactions`
(`make bench-txn`).

For each store (memory, sqlite, etcd: a 3-member cluster on loopback), one
kv-server and CLIENTS closed-loop aiohttp clients, each on two keys of its
own (so transfers never conflict and none is retried). Two loads, alternated
ROUNDS times, the median round reported:

- transfer: one `POST /v1/txn` whose compares require both keys at the
  revisions the client last saw, and which puts both (one revision, one
  commit: one fsync on sqlite, one etcd Txn);
- two PUTs: `PUT /v1/kv/a` then `PUT /v1/kv/b`, the same two changes made
  one at a time.

The ratio, transfers per second over pairs of PUTs per second, compares the
two in one run on one machine; the absolute figures depend on the machine.
Clients, server and etcd share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp

from bench.etcd_cluster import etcd_cluster
from bench.kvserver import kv_server
from bench.processes import HOST

CLIENTS = 16
ROUNDS = 3
STORES = ("memory", "sqlite", "etcd")


async def _load(url: str, kind: str, duration: float, round_: int) -> float:
    """Operations (transfers, or pairs of PUTs) per second of CLIENTS clients for `duration`."""
    done = 0
    deadline = time.monotonic() + duration

    async def client(session: aiohttp.ClientSession, number: int) -> None:
        nonlocal done
        a, b = f"bench/{kind}/{round_}/{number}/a", f"bench/{kind}/{round_}/{number}/b"
        revisions = {a: 0, b: 0}
        balance = 0
        while time.monotonic() < deadline:
            balance += 1
            if kind == "transfer":
                body = {
                    "compare": [{"key": k, "revision": r} for k, r in revisions.items()],
                    "success": [
                        {"op": "put", "key": a, "value": -balance},
                        {"op": "put", "key": b, "value": balance},
                    ],
                }
                async with session.post(f"{url}/v1/txn", json=body) as response:
                    answer = await response.json()
                assert response.status == 200, answer
                assert answer["succeeded"], answer
                revisions = {a: answer["revision"], b: answer["revision"]}
            else:
                for key, value in ((a, -balance), (b, balance)):
                    async with session.put(f"{url}/v1/kv/{key}", json={"value": value}) as response:
                        await response.read()
                    assert response.status in (200, 201), response.status
            done += 1

    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.monotonic()
        await asyncio.gather(*(client(session, n) for n in range(CLIENTS)))
        return done / (time.monotonic() - began)


def measure(url: str, duration: float) -> dict[str, float]:
    """The median per-second figure of each load over ROUNDS alternating rounds."""
    figures: dict[str, list[float]] = {"transfer": [], "two-puts": []}
    for round_ in range(ROUNDS):
        for kind in figures:
            figures[kind].append(asyncio.run(_load(url, kind, duration, round_)))
    return {kind: sorted(values)[len(values) // 2] for kind, values in figures.items()}


@contextlib.contextmanager
def served(store: str, data: Path) -> Iterator[str]:
    """The HTTP URL of a kv-server over `store` (etcd: a 3-member cluster of its own)."""
    env = {"KV_STORE": store, "KV_DATA_DIR": str(data / "kv"), "KV_ACCESS_LOG": "off"}
    with contextlib.ExitStack() as stack:
        if store == "etcd":
            members = stack.enter_context(etcd_cluster(data / "etcd"))
            endpoints = ",".join(f"{HOST}:{member.ports['client']}" for member in members)
            env["KV_ETCD_ENDPOINTS"] = endpoints
        server = stack.enter_context(kv_server(f"kv-txn-{store}", **env))
        url = f"http://{HOST}:{server.ports['http']}"
        asyncio.run(_ready(url))
        yield url


READY_SECONDS = 30.0


async def _ready(url: str) -> None:
    """Wait until `/readyz` answers 200 (etcd elects a leader after it listens)."""
    deadline = time.monotonic() + READY_SECONDS
    async with aiohttp.ClientSession() as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not ready within {READY_SECONDS:g} s")
            await asyncio.sleep(0.2)


def table(results: dict[str, dict[str, float]], duration: float) -> str:
    lines = [
        f"{CLIENTS} HTTP clients, median of {ROUNDS} alternating rounds of {duration:g} s per "
        f"load; load average {os.getloadavg()[0]:.2f} at the end",
        "",
        "| store | 2-key transfers/s (`POST /v1/txn`) | pairs of PUTs/s | transfer / two PUTs |",
        "|---|---:|---:|---:|",
    ]
    for store, figures in results.items():
        ratio = figures["transfer"] / figures["two-puts"]
        lines.append(
            f"| {store} | {figures['transfer']:,.0f} | {figures['two-puts']:,.0f} | {ratio:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per load and round")
    parser.add_argument("--stores", default=",".join(STORES), help="comma list of stores")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for store in args.stores.split(","):
        with (
            tempfile.TemporaryDirectory(prefix="kv-bench-txn-") as data,
            served(store, Path(data)) as url,
        ):
            results[store] = measure(url, args.duration)
    print(table(results, args.duration))


if __name__ == "__main__":
    main()
