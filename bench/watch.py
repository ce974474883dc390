"""1,000 watchers under write load: `python -m bench.watch` (`make bench-watch`).

Starts `kv-server` (memory store, HTTP) and measures, in one run:

1. write throughput with no watcher: WRITES puts by CONCURRENCY writers, in a
   process of their own (`--writer`), each put's acknowledgement time noted;
2. the same with WATCHERS open `GET /v1/watch` streams (this process, one
   connection each), which note when each event arrives.

Reported: write throughput in both phases and their ratio (the cost of the
watchers to writers), and the latency from a put's acknowledgement (as the
writer got it) to its event's arrival at each watcher, p50/p99/max over
every (watcher, event) pair. The clock is `time.monotonic`, one clock for
every process of the machine. The watchers share the machine's cores with
the server and the writer, so the latency includes the watchers' own
queueing: an upper bound of what the server adds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import aiohttp
import uvloop

from bench.processes import HOST, free_port, python_module, running

WATCHERS = 1000
WRITES = 2000
CONCURRENCY = 16
PREFIX = "bench-watch/"
CONNECT_TIMEOUT_SECONDS = 120.0
DRAIN_TIMEOUT_SECONDS = 300.0
_ID = re.compile(rb"^id: (\d+)$", re.MULTILINE)


@dataclass(frozen=True)
class Phase:
    """One writer run: how long it took and when each revision was acknowledged."""

    seconds: float
    acks: dict[int, float]

    @property
    def throughput(self) -> float:
        return len(self.acks) / self.seconds


async def _write(url: str, writes: int, concurrency: int) -> Phase:
    acks: dict[int, float] = {}
    keys = iter(range(writes))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def writer() -> None:
            for n in keys:
                async with session.put(
                    f"{url}/v1/kv/{PREFIX}{n % 100}", json={"value": {"n": n}}
                ) as response:
                    document = await response.json()
                acks[int(document["revision"])] = time.monotonic()

        started = time.monotonic()
        await asyncio.gather(*(writer() for _ in range(concurrency)))
        return Phase(time.monotonic() - started, acks)


def run_writer(url: str, writes: int, concurrency: int) -> Phase:
    """Run the writes in a process of their own; its report on stdout."""
    args = ["--writer", url, "--writes", str(writes), "--concurrency", str(concurrency)]
    output = subprocess.run(python_module("bench.watch", *args), check=True, capture_output=True)
    report = json.loads(output.stdout)
    return Phase(report["seconds"], {int(r): t for r, t in report["acks"].items()})


class Watcher:
    """One open stream; notes the arrival time of every event id."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self.connected = asyncio.Event()

    async def run(
        self, session: aiohttp.ClientSession, url: str, last: asyncio.Future[int]
    ) -> None:
        async with session.get(f"{url}/v1/watch?prefix={PREFIX}") as response:
            self.connected.set()
            tail = b""
            async for chunk in response.content.iter_any():
                now = time.monotonic()
                lines, _, tail = (tail + chunk).rpartition(b"\n")
                for match in _ID.finditer(lines):
                    self.arrivals[int(match[1])] = now
                if last.done() and last.result() in self.arrivals:
                    return


async def _measure(url: str, watchers: int, writes: int, concurrency: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    idle = await loop.run_in_executor(None, run_writer, url, writes, concurrency)
    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_SECONDS)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        last: asyncio.Future[int] = loop.create_future()
        crowd = [Watcher() for _ in range(watchers)]
        tasks = [asyncio.create_task(w.run(session, url, last)) for w in crowd]
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            await asyncio.gather(*(w.connected.wait() for w in crowd))
        loaded = await loop.run_in_executor(None, run_writer, url, writes, concurrency)
        last.set_result(max(loaded.acks))
        # A watcher waits for its next chunk: a write after the last one wakes every watcher.
        async with session.put(f"{url}/v1/kv/{PREFIX}end", json={"value": "end"}):
            pass
        async with asyncio.timeout(DRAIN_TIMEOUT_SECONDS):
            await asyncio.gather(*tasks)
    latencies = sorted(
        (arrived - loaded.acks[revision]) * 1000
        for watcher in crowd
        for revision, arrived in watcher.arrivals.items()
        if revision in loaded.acks
    )
    missing = watchers * len(loaded.acks) - len(latencies)
    return {
        "watchers": watchers,
        "writes": writes,
        "idle_writes_per_s": idle.throughput,
        "loaded_writes_per_s": loaded.throughput,
        "ratio": loaded.throughput / idle.throughput,
        "events": len(latencies),
        "missing": missing,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": latencies[-1],
    }


def measure(
    watchers: int = WATCHERS, writes: int = WRITES, concurrency: int = CONCURRENCY
) -> dict[str, float]:
    """Start a kv-server and measure; the figures as a dict."""
    port = free_port()
    env = {
        "TRANSPORT": "http",
        "KV_HOST": HOST,
        "KV_HTTP_PORT": str(port),
        "KV_STORE": "memory",
        "KV_WATCH_HISTORY_EVENTS": str(max(10_000, 4 * writes)),
        "KV_ACCESS_LOG": "off",
        "KV_LOG_LEVEL": "warning",
    }
    with running("watch", python_module("kv.server"), ports={"http": port}, env=env):
        url = f"http://{HOST}:{port}"
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(_measure(url, watchers, writes, concurrency))


def table(figures: dict[str, float]) -> str:
    return "\n".join(
        [
            "| watchers | writes | writes/s, no watcher | writes/s, watched | ratio "
            "| events | p50 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {figures['watchers']:.0f} | {figures['writes']:.0f} "
            f"| {figures['idle_writes_per_s']:.0f} | {figures['loaded_writes_per_s']:.0f} "
            f"| {figures['ratio']:.2f} | {figures['events']:.0f} "
            f"| {figures['p50_ms']:.1f} | {figures['p99_ms']:.1f} | {figures['max_ms']:.1f} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=WATCHERS)
    parser.add_argument("--writes", type=int, default=WRITES)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--writer", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        phase = asyncio.run(_write(args.writer, args.writes, args.concurrency))
        json.dump({"seconds": phase.seconds, "acks": phase.acks}, sys.stdout)
        return
    print(table(measure(args.watchers, args.writes, args.concurrency)))


if __name__ == "__main__":
    main()
