"""kv over RESP against redis-server, with redis-benchmark: `python -m bench.resp`.

    python -m bench.resp [--requests N] [--rounds R]

Starts, on free loopback ports, kv-server (TRANSPORT=resp) on the memory and
on the sqlite store, redis-server without persistence and redis-server with
`appendfsync always` (an fsync before every reply, as kv's sqlite store
does), and runs `redis-benchmark -t set,get -c 50` at each, with pipelining
off and with `-P 16`. Every load is a fixed number of requests over 1000
keys (`-r 1000`), bounded by a timeout. The servers take turns round by
round and the median round is reported, so a burst of other work on the
shared machine slows every server alike. Prints a Markdown table and the
ratios against the targets (docs/benchmarks.md, "RESP").
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.kvserver import measured
from bench.loads import LoadResult
from bench.processes import HOST, Server, free_port, python_module, running
from bench.rows import Figure
from bench.tls import secured_kv_server

CLIENTS = 50
KEYSPACE = 1000
PIPELINES = (1, 16)
# redis-server and the bare ceiling serve several times kv-server's rate: their loads are
# that many times longer, so that no load is over in a fraction of a second.
PEER_LOADS = 4
ALWAYS = ("--appendonly", "yes", "--appendfsync", "always")
# (what, numerator, denominator, operation, {pipelining: target}); the same targets as the
# RESP rows of `make bench` (bench/rows.py).
TARGETS = (
    ("kv/memory ÷ redis (no persistence)", "kv-memory", "redis", "SET", {1: 0.8, 16: 0.5}),
    ("kv/memory ÷ redis (no persistence)", "kv-memory", "redis", "GET", {1: 0.8, 16: 0.5}),
    ("kv/sqlite ÷ redis (appendfsync always)", "kv-sqlite", "redis-always", "SET", {16: 0.3}),
)


def redis_benchmark(
    port: int, tests: str, requests: int, pipeline: int, *options: str
) -> dict[str, LoadResult]:
    """Each test of `tests` (requests per second, latencies) from redis-benchmark's CSV output.

    `options`: more of its options (--tls, -a TOKEN). An error a server
    answered (a refused token, say) fails the load."""
    command = ["redis-benchmark", "-h", HOST, "-p", str(port), "-t", tests, "-c", str(CLIENTS)]
    command += ["-n", str(requests), "-P", str(pipeline), "-r", str(KEYSPACE), "--csv", *options]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    if any(word in done.stdout + done.stderr for word in ("NOAUTH", "WRONGPASS", "ERR")):
        raise RuntimeError(f"redis-benchmark was answered an error: {done.stdout}{done.stderr}")
    return {
        row["test"]: LoadResult(
            float(row["rps"]),
            float(row["p50_latency_ms"]),
            float(row["p99_latency_ms"]),
            requests,
            0,
        )
        for row in csv.DictReader(io.StringIO(done.stdout))
    }


@contextmanager
def kv_server(store: str, data: Path) -> Iterator[Server]:
    port = free_port()
    env = {"TRANSPORT": "resp", "KV_HOST": HOST, "KV_RESP_PORT": str(port), "KV_STORE": store}
    env["KV_DATA_DIR"] = str(data / f"kv-{store}")
    kv = shutil.which("kv-server", path=str(Path(sys.executable).parent)) or "kv-server"
    with running(f"kv-resp-{store}", [kv], ports={"resp": port}, env=env) as server:
        yield server


@contextmanager
def redis_server(name: str, data: Path, *persistence: str) -> Iterator[Server]:
    port = free_port()
    directory = data / name
    directory.mkdir()
    command = ["redis-server", "--port", str(port), "--bind", HOST, "--dir", str(directory)]
    command += ["--save", "", *persistence]
    with running(name, command, ports={"resp": port}) as server:
        yield server


def measure(requests: int, rounds: int) -> dict[tuple[str, int, str], float]:
    """Median requests per second by (server, pipeline, operation)."""
    samples: dict[tuple[str, int, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="kv-bench-resp-") as scratch, ExitStack() as stack:
        data = Path(scratch)
        servers = {
            "kv-memory": stack.enter_context(kv_server("memory", data)),
            "kv-sqlite": stack.enter_context(kv_server("sqlite", data)),
            "redis": stack.enter_context(redis_server("redis", data, "--appendonly", "no")),
            "redis-always": stack.enter_context(redis_server("redis-always", data, *ALWAYS)),
        }
        for _ in range(rounds):
            for pipeline in PIPELINES:
                for name, server in servers.items():
                    # Durable SETs are an fsync each: a tenth of the requests suffices.
                    durable = name in ("kv-sqlite", "redis-always") and pipeline == 1
                    count = requests // 10 if durable else requests * pipeline // 4
                    rates = redis_benchmark(server.ports["resp"], "set,get", count, pipeline)
                    for operation, rate in rates.items():
                        samples.setdefault((name, pipeline, operation), []).append(
                            rate.requests_per_second
                        )
    return {point: statistics.median(rates) for point, rates in samples.items()}


def load_sizes(duration: float) -> tuple[int, int]:
    """Requests per load, without pipelining and with -P 16: about `duration` s at kv-server."""
    return int(20_000 * duration), int(60_000 * duration)


def phase(figures: dict[str, Figure], duration: float) -> None:
    """The RESP rows of `make bench`: one load of each point, the servers one after another.

    kv-server (memory), the bare ceiling (bench/ceiling_resp.py), redis-server
    without persistence, and kv-server with TLS and an auth file (redis-benchmark
    --tls -a TOKEN): SET then GET, pipelining off and -P 16. Then SET -P 16 at
    kv-server on sqlite and at redis-server with `appendfsync always`. A load
    is a request count (`load_sizes`, PEER_LOADS times more for the peers).
    """
    single, pipelined = load_sizes(duration)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="kv-bench-resp-") as scratch, ExitStack() as stack:
        data = Path(scratch)
        secured = stack.enter_context(secured_kv_server("kv-tls-resp", "resp"))
        kv = stack.enter_context(kv_server("memory", data))
        bare = python_module("bench.ceiling_resp", str(port))
        ceiling = stack.enter_context(running("ceiling-resp", bare, ports={"resp": port}))
        redis = stack.enter_context(redis_server("redis", data, "--appendonly", "no"))
        sqlite = stack.enter_context(kv_server("sqlite", data))
        always = stack.enter_context(redis_server("redis-always", data, *ALWAYS))
        token = ("--tls", "--cacert", str(secured.ca), "-a", secured.token)
        sides = [
            ("kv-resp", kv, 1, ()),
            ("ceiling-resp", ceiling, PEER_LOADS, ()),
            ("redis", redis, PEER_LOADS, ()),
            ("kv-tls-resp", secured.server, 1, token),
        ]
        for pipeline, count, suffix in ((1, single, ""), (16, pipelined, "-p16")):
            for operation in ("set", "get"):
                for name, server, scale, options in sides:
                    figures[f"{name}-{operation}{suffix}"] = _load(
                        server, operation, count * scale, pipeline, *options
                    )
        for name, server, scale in (
            ("kv-sqlite-resp", sqlite, 1),
            ("redis-always", always, PEER_LOADS),
        ):
            figures[f"{name}-set-p16"] = _load(server, "set", pipelined * scale // 2, 16)


def _load(
    server: Server, operation: str, requests: int, pipeline: int, *options: str
) -> LoadResult:
    """redis-benchmark's `operation` at `server`, with the server's CPU time per request."""

    def one() -> LoadResult:
        found = redis_benchmark(server.ports["resp"], operation, requests, pipeline, *options)
        return found[operation.upper()]

    return measured(server, one)


def table(results: dict[tuple[str, int, str], float], load: tuple[float, float]) -> str:
    lines = [
        f"redis-benchmark -t set,get -c {CLIENTS} -r {KEYSPACE}, median of the rounds; "
        f"load average {load[0]:.2f} at the start, {load[1]:.2f} at the end.",
        "",
        "| server | SET req/s | GET req/s | SET -P 16 | GET -P 16 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("kv-memory", "redis", "kv-sqlite", "redis-always"):
        cells = [
            f"{results.get((name, pipeline, operation), 0):,.0f}"
            for pipeline in PIPELINES
            for operation in ("SET", "GET")
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| ratio | pipelining | measured | target |", "|---|---|---:|---:|"]
    for what, ours, theirs, operation, targets in TARGETS:
        for pipeline in PIPELINES:
            ratio = results[(ours, pipeline, operation)] / results[(theirs, pipeline, operation)]
            mode = "off" if pipeline == 1 else f"-P {pipeline}"
            target = f"{targets[pipeline]:.1f}" if pipeline in targets else "-"
            lines.append(f"| {what}, {operation} | {mode} | {ratio:.2f} | {target} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.resp", description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000, help="per load (default 100000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server (default 3)")
    args = parser.parse_args()
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (apt-get install redis-server redis-tools)")
    start = os.getloadavg()[0]
    results = measure(args.requests, args.rounds)
    print(table(results, (start, os.getloadavg()[0])))


if __name__ == "__main__":
    main()
