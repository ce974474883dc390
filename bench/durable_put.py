"""Durable against in-memory PUT throughput: `python -m bench.durable_put` (`make bench-durable`).

Starts `kv-server` twice on free loopback ports, KV_STORE=memory and
KV_STORE=sqlite (WAL, fsync before every acknowledgement), and drives the same
PUT load at each (a new value each time, over 1000 keys) at 1, 16 and 64
concurrent clients, each point bounded in time. Prints a Markdown table with
the durable/in-memory ratio; the target is >= 60% at 64 clients.

The machine is shared and noisy, so each point is measured in ROUNDS short
loads that alternate between the two servers, and the round with the median
throughput is reported: a burst of other work then slows both sides alike
instead of one.

The load generator is `wrk` (bench/wrk/kv_put.lua) when it is installed: a C
program on one thread, so it is not what limits a Python server. Without it,
a small aiohttp closed-loop generator in this process is used instead, and
the table says so.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.loads import BENCH_DIR, LoadResult, parse_wrk
from bench.processes import HOST, free_port, python_module, running
from kv.transports import TRANSPORTS

CLIENTS = (1, 16, 64)
ROUNDS = 3
KEYS = 1000
TARGET_AT_64 = 0.60


def wrk_put(url: str, clients: int, duration: float) -> LoadResult:
    """`wrk` with one thread and `clients` connections, each waiting for its answer."""
    command = ["wrk", "-t1", f"-c{clients}", f"-d{duration:g}s", "--latency"]
    command += ["-s", str(BENCH_DIR / "wrk" / "kv_put.lua"), url]
    done = subprocess.run(
        command,
        env={"KEYS": str(KEYS), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    )
    return parse_wrk(done.stdout)


async def _aiohttp_put(url: str, clients: int, duration: float) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + duration

    async def client(session: aiohttp.ClientSession, number: int) -> None:
        nonlocal errors
        counter = number
        while time.monotonic() < deadline:
            counter += clients
            started = time.perf_counter()
            body = {"value": f"value-{counter:026d}"}
            async with session.put(f"{url}/v1/kv/bench-{counter % KEYS:010d}", json=body) as r:
                await r.read()
                errors += r.status >= 300
            latencies.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.monotonic()
        await asyncio.gather(*(client(session, n) for n in range(clients)))
        elapsed = time.monotonic() - began
    latencies.sort()
    return LoadResult(
        len(latencies) / elapsed,
        latencies[len(latencies) // 2],
        latencies[int(len(latencies) * 0.99)],
        len(latencies),
        errors,
    )


def aiohttp_put(url: str, clients: int, duration: float) -> LoadResult:
    """The fallback load generator: `clients` aiohttp clients in a closed loop."""
    return asyncio.run(_aiohttp_put(url, clients, duration))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=int, default=2, help=f"whole seconds per load ({ROUNDS} per point)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where the sqlite server keeps its files (default: a new temporary directory); "
        "put it on the disk you mean to measure, not on tmpfs",
    )
    args = parser.parse_args()
    generator = wrk_put if shutil.which("wrk") else aiohttp_put
    tool = "wrk -t1 (bench/wrk/kv_put.lua)" if generator is wrk_put else "aiohttp (in-process)"

    with tempfile.TemporaryDirectory(prefix="kv-bench-durable-") as scratch:
        data_dir = args.data_dir or Path(scratch)
        ports = {"memory": free_port(), "sqlite": free_port()}
        envs = {
            name: {
                "KV_STORE": name,
                "KV_DATA_DIR": str(data_dir),
                "KV_HOST": HOST,
                TRANSPORTS["http"].port.variable: str(port),
            }
            for name, port in ports.items()
        }
        command = python_module("kv.server")
        with (
            running("memory", command, ports={"http": ports["memory"]}, env=envs["memory"]),
            running("sqlite", command, ports={"http": ports["sqlite"]}, env=envs["sqlite"]),
        ):
            urls = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
            for url in urls.values():  # warm up: connections, caches, the database file
                generator(url, 16, 1)
            rounds: dict[tuple[str, int], list[LoadResult]] = {}
            for clients in CLIENTS:
                for _ in range(ROUNDS):
                    for name in ("memory", "sqlite"):
                        load = generator(urls[name], clients, args.duration)
                        rounds.setdefault((name, clients), []).append(load)
            results = {point: median(loads) for point, loads in rounds.items()}
    print(report(results, tool, args.duration, data_dir if args.data_dir else None))


def median(loads: list[LoadResult]) -> LoadResult:
    """The load with the median throughput (its latencies with it)."""
    return sorted(loads, key=lambda load: load.requests_per_second)[len(loads) // 2]


def report(
    results: dict[tuple[str, int], LoadResult], tool: str, duration: float, data_dir: Path | None
) -> str:
    """The Markdown table: throughput and p99 per store and client count, and the ratio."""
    lines = [
        f"PUT throughput, load generator {tool}, median of {ROUNDS} alternating loads"
        f" of {duration:g} s per point" + (f", data in {data_dir}" if data_dir else ""),
        "",
        "| clients | in-memory | sqlite (durable) | durable / in-memory |",
        "|---:|---:|---:|---:|",
    ]
    for clients in CLIENTS:
        memory, sqlite = results["memory", clients], results["sqlite", clients]
        ratio = sqlite.requests_per_second / memory.requests_per_second
        mark = ""
        if clients == 64:
            mark = " (target >= 60%: " + ("met)" if ratio >= TARGET_AT_64 else "NOT met)")
        lines.append(f"| {clients} | {_cell(memory)} | {_cell(sqlite)} | {ratio:.0%}{mark} |")
    return "\n".join(lines)


def _cell(result: LoadResult) -> str:
    errors = f", {result.errors} errors" if result.errors else ""
    return f"{result.requests_per_second:,.0f}/s (p99 {result.p99_ms:.2f} ms{errors})"


if __name__ == "__main__":
    main()
