"""Watch latency over etcd, across replicas: `python -m bench.etcd_watch` (`make bench-etcd-watch`).

A 3-member etcd cluster on loopback and two kv-server replicas over it (HTTP).
WRITES puts by CONCURRENCY writers go through replica 1 (a process of their
own, as in bench.watch), first with no watcher, then with WATCHERS
`GET /v1/watch` streams open on replica 2 (each one an etcd Watch stream).
Reported as bench.watch reports it: writes/s in both phases and their ratio,
and the latency from a put's acknowledgement by replica 1 to the arrival of
its event at each watcher on replica 2, p50/p99/max over every (watcher,
event) pair; and the CPU replica 2 spent per (watcher, event) pair. Writers,
watchers, both replicas and etcd share the machine's cores: figures to
compare, not absolute. Unlike bench.watch's single server, the writes do not
wait for the watchers' replica: when it cannot keep up, its events queue and
the latency grows with the run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

import aiohttp
import uvloop

from bench.etcd_cluster import etcd_cluster
from bench.processes import HOST, cpu_seconds
from bench.run import kv_server
from bench.watch import (
    CONNECT_TIMEOUT_SECONDS,
    DRAIN_TIMEOUT_SECONDS,
    PREFIX,
    Watcher,
    run_writer,
    table,
)

WATCHERS = 100
WRITES = 500
CONCURRENCY = 4


async def _measure(
    write_url: str, watch_url: str, watchers: int, writes: int, concurrency: int
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    idle = await loop.run_in_executor(None, run_writer, write_url, writes, concurrency)
    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(limit=0)
    ) as session:
        last: asyncio.Future[int] = loop.create_future()
        crowd = [Watcher() for _ in range(watchers)]
        tasks = [asyncio.create_task(w.run(session, watch_url, last)) for w in crowd]
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            await asyncio.gather(*(w.connected.wait() for w in crowd))
        loaded = await loop.run_in_executor(None, run_writer, write_url, writes, concurrency)
        last.set_result(max(loaded.acks))
        # A watcher checks for the last revision when a chunk arrives: one more write wakes it.
        async with session.put(f"{write_url}/v1/kv/{PREFIX}end", json={"value": "end"}):
            pass
        async with asyncio.timeout(DRAIN_TIMEOUT_SECONDS):
            await asyncio.gather(*tasks)
    latencies = sorted(
        (arrived - loaded.acks[revision]) * 1000
        for watcher in crowd
        for revision, arrived in watcher.arrivals.items()
        if revision in loaded.acks
    )
    return {
        "watchers": watchers,
        "writes": writes,
        "idle_writes_per_s": idle.throughput,
        "loaded_writes_per_s": loaded.throughput,
        "ratio": loaded.throughput / idle.throughput,
        "events": len(latencies),
        "missing": watchers * len(loaded.acks) - len(latencies),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": latencies[-1],
    }


def measure(
    watchers: int = WATCHERS, writes: int = WRITES, concurrency: int = CONCURRENCY
) -> dict[str, float]:
    """Start etcd and two replicas and measure; the figures as a dict."""
    with (
        tempfile.TemporaryDirectory(prefix="kv-bench-etcd-watch-") as data,
        etcd_cluster(Path(data)) as members,
    ):
        endpoints = ",".join(f"{HOST}:{member.ports['client']}" for member in members)
        env = {"KV_STORE": "etcd", "KV_ETCD_ENDPOINTS": endpoints, "KV_ACCESS_LOG": "off"}
        with kv_server("kv-etcd-1", **env) as one, kv_server("kv-etcd-2", **env) as two:
            urls = [f"http://{HOST}:{server.ports['http']}" for server in (one, two)]
            before = cpu_seconds(two.process.pid)
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                figures = runner.run(_measure(*urls, watchers, writes, concurrency))
            spent = cpu_seconds(two.process.pid) - before
            figures["watch_cpu_us_per_event"] = spent / max(figures["events"], 1) * 1e6
            return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=WATCHERS)
    parser.add_argument("--writes", type=int, default=WRITES)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    args = parser.parse_args()
    figures = measure(args.watchers, args.writes, args.concurrency)
    print(table(figures))
    print(
        f"replica 2 (the watchers'): {figures['watch_cpu_us_per_event']:.0f} µs of CPU per "
        "(watcher, event), both phases"
    )
    if figures["missing"]:
        raise SystemExit(f"{figures['missing']:.0f} (watcher, event) pairs never arrived")


if __name__ == "__main__":
    main()
