"""1,000 watchers under write load: `python -m bench.watch` (`make bench-watch`).

Starts `kv-server` (memory store, HTTP) and measures, in one run:

1. write throughput with no watcher: WRITES puts by CONCURRENCY writers, in a
   process of their own (`--writer`), each put's acknowledgement time noted;
2. the same with WATCHERS open `GET /v1/watch` streams (this process, one
   connection each, bare asyncio protocols), which note when each event arrives.

Reported: write throughput in both phases and their ratio (the cost of the
watchers to writers), the latency from a put's acknowledgement (as the
writer got it) to its event's arrival at each watcher, p50/p99/max over
every (watcher, event) pair, and the CPU time per write of the server (in
each phase) and of the watchers (this process, while the watched writes
ran). The clock is `time.monotonic`, one clock for every process of the
machine. The watchers share the machine's cores with
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

from bench.processes import HOST, cpu_seconds, free_port, python_module, running

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
    run = time.time_ns()  # every put of this run changes its key, so each takes a revision
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def writer() -> None:
            for n in keys:
                async with session.put(
                    f"{url}/v1/kv/{PREFIX}{n % 100}", json={"value": {"n": n, "run": run}}
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


class Watcher(asyncio.Protocol):
    """One open stream over a raw connection; notes the arrival time of every event id.

    A bare protocol, not an HTTP client: the watchers share the machine with
    the server, so what each costs to run is kept small (find the `id:`
    lines of what arrives, nothing more), and the figures are the server's.
    """

    def __init__(self, last: asyncio.Future[int]) -> None:
        self.arrivals: dict[int, float] = {}
        self.connected = asyncio.Event()
        self.done = asyncio.Event()
        self._last = last
        self._tail = b""
        self.transport: asyncio.BaseTransport | None = None
        self.head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if not self.connected.is_set():
            self.head = data[:200]  # the response's head: the server has subscribed
            self.connected.set()
        lines, _, self._tail = (self._tail + data).rpartition(b"\n")
        for match in _ID.finditer(lines):
            self.arrivals[int(match[1])] = now
        if self._last.done() and self._last.result() in self.arrivals:
            self.done.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.done.set()


async def _open_watcher(host: str, port: int, last: asyncio.Future[int]) -> Watcher:
    loop = asyncio.get_running_loop()
    transport, watcher = await loop.create_connection(lambda: Watcher(last), host, port)
    transport.write(f"GET /v1/watch?prefix={PREFIX} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return watcher


async def measure_streams(
    write_url: str, watch_url: str, server_pid: int, watchers: int, writes: int, concurrency: int
) -> dict[str, float]:
    """Writes through `write_url` without, then with, `watchers` streams open at `watch_url`.

    `server_pid`: the server whose CPU is counted (the watchers' one).
    """
    loop = asyncio.get_running_loop()
    server_cpu = cpu_seconds(server_pid)
    idle = await loop.run_in_executor(None, run_writer, write_url, writes, concurrency)
    idle_server_cpu = cpu_seconds(server_pid) - server_cpu
    host, port = watch_url.removeprefix("http://").rsplit(":", 1)
    last: asyncio.Future[int] = loop.create_future()
    async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
        crowd = [await _open_watcher(host, int(port), last) for _ in range(watchers)]
        await asyncio.gather(*(w.connected.wait() for w in crowd))
    refused = [w.head for w in crowd if not w.head.startswith(b"HTTP/1.1 200")]
    if refused:
        raise RuntimeError(f"{len(refused)} watches refused: {refused[0]!r}")
    server_cpu, own_cpu = cpu_seconds(server_pid), time.process_time()
    loaded = await loop.run_in_executor(None, run_writer, write_url, writes, concurrency)
    loaded_server_cpu = cpu_seconds(server_pid) - server_cpu
    watchers_cpu = time.process_time() - own_cpu
    last.set_result(max(loaded.acks))
    for watcher in crowd:  # those that had every event already
        if last.result() in watcher.arrivals:
            watcher.done.set()
    async with asyncio.timeout(DRAIN_TIMEOUT_SECONDS):
        await asyncio.gather(*(w.done.wait() for w in crowd))
    for watcher in crowd:
        if watcher.transport is not None:
            watcher.transport.close()
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
        # CPU per write, in µs: the server's (every thread) in each phase, and the
        # watchers' own (this process) while the watched writes ran.
        "idle_server_us": idle_server_cpu / writes * 1e6,
        "loaded_server_us": loaded_server_cpu / writes * 1e6,
        "watchers_us": watchers_cpu / writes * 1e6,
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
    with running("watch", python_module("kv.server"), ports={"http": port}, env=env) as server:
        url = f"http://{HOST}:{port}"
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(
                measure_streams(url, url, server.process.pid, watchers, writes, concurrency)
            )


def table(figures: dict[str, float]) -> str:
    return "\n".join(
        [
            "| watchers | writes | writes/s, no watcher | writes/s, watched | ratio "
            "| events | p50 ms | p99 ms | max ms | server CPU/write, no watcher "
            "| server CPU/write, watched | watchers' CPU/write |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {figures['watchers']:.0f} | {figures['writes']:.0f} "
            f"| {figures['idle_writes_per_s']:.0f} | {figures['loaded_writes_per_s']:.0f} "
            f"| {figures['ratio']:.2f} | {figures['events']:.0f} "
            f"| {figures['p50_ms']:.1f} | {figures['p99_ms']:.1f} | {figures['max_ms']:.1f} "
            f"| {figures['idle_server_us']:.0f} µs | {figures['loaded_server_us']:.0f} µs "
            f"| {figures['watchers_us']:.0f} µs |",
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
