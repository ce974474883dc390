"""`make bench`: kv-server against the bare framework ceilings and etcd, in one run, on loopback.

    python -m bench.run [--duration SECONDS] [--only http,etcd,durable,grpc,rss] [--write]

Each phase starts its servers on free loopback ports, loads them for a
bounded time with wrk or h2load, and stops them by PID. The table is
printed; after a run of every phase (or with --write) it is also written to
docs/benchmarks.md (between markers) with the chart docs/benchmarks.png.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from importlib.metadata import version
from pathlib import Path

from bench import loads, report
from bench.processes import HOST, Server, cpu_seconds, free_port, python_module, running
from kv.transports import TRANSPORTS

ROOT = Path(__file__).resolve().parent.parent
KEYS = 1000
RSS_KEYS = 1_000_000
RSS_TARGET_BYTES = 250.0
PHASES = ("http", "etcd", "durable", "grpc", "rss")

NAMES = {
    "kv-http-get": "kv-server",
    "kv-http-put": "kv-server",
    "ceiling-http-get": "bare aiohttp",
    "ceiling-http-put": "bare aiohttp",
    "etcd-get": "etcd",
    "etcd-put": "etcd",
    "kv-sqlite-put": "kv-server (sqlite)",
    "kv-grpc-get": "kv-server",
    "kv-grpc-put": "kv-server",
    "ceiling-grpc-get": "bare grpc.aio",
    "ceiling-grpc-put": "bare grpc.aio",
}
COMPARISONS = [
    report.Comparison("HTTP GET / ceiling", "kv-http-get", "ceiling-http-get", 0.80),
    report.Comparison("HTTP PUT / ceiling", "kv-http-put", "ceiling-http-put", 0.75),
    report.Comparison("HTTP GET / etcd", "kv-http-get", "etcd-get", 2.5),
    report.Comparison("HTTP PUT (memory) / etcd", "kv-http-put", "etcd-put", 1.5),
    report.Comparison("durable PUT (sqlite) / etcd", "kv-sqlite-put", "etcd-put", 1.0),
    report.Comparison("gRPC Get / ceiling", "kv-grpc-get", "ceiling-grpc-get", 0.80),
    report.Comparison("gRPC Put / ceiling", "kv-grpc-put", "ceiling-grpc-put", 0.80),
]
CHART_GROUPS = [
    (
        "HTTP GET",
        [("kv-server", "kv-http-get"), ("ceiling", "ceiling-http-get"), ("etcd", "etcd-get")],
    ),
    (
        "HTTP PUT",
        [("kv-server", "kv-http-put"), ("ceiling", "ceiling-http-put"), ("etcd", "etcd-put")],
    ),
    ("durable PUT", [("kv-server", "kv-sqlite-put"), ("etcd", "etcd-put")]),
    ("gRPC Get", [("kv-server", "kv-grpc-get"), ("ceiling", "ceiling-grpc-get")]),
    ("gRPC Put", [("kv-server", "kv-grpc-put"), ("ceiling", "ceiling-grpc-put")]),
]

Results = dict[str, loads.LoadResult]

METHOD = """\
### How it is measured

- **HTTP**: `wrk -t1 -c50 --latency` with `bench/wrk/kv_get.lua` (GET over 1,000 keys loaded
  first) and `kv_put.lua` (PUT of a new 32-byte string value each time, so every request is a
  real write). The ceiling is `bench/ceiling_http.py`: aiohttp on the same event loop and JSON
  codec, the same routes and bodies, a dict and nothing else (no validation, no request id, no
  metrics, no access log). kv-server runs in its default configuration: its log goes to a file,
  and with `KV_ACCESS_LOG=errors` a request answered in time writes no line; every request is
  counted and timed for `/metrics`.
- **etcd** 3.4, a single node started by the benchmark with its own data directory, through its
  JSON gateway: `POST /v3/kv/range` and `/v3/kv/put` with base64 keys and values
  (`bench/wrk/etcd_*.lua`), the same keys and values. etcd fsyncs its WAL before it answers a put.
- **Durable PUT**: kv-server with `KV_STORE=sqlite` (it answers once the write is on disk) under
  the same PUT load, against etcd's put.
- Every kv-server runs with `KV_MAX_CONCURRENT_REQUESTS=100`, twice the load's connections, so
  that a load measures what it serves and not the admission limit (with the default 32 a durable
  PUT run answered most requests 503, and h2load counts a gRPC UNAVAILABLE, sent with HTTP
  status 200, as served).
- **gRPC**: `h2load -c50 -m1` posting one prepared gRPC frame (5-byte prefix and the serialized
  request; `content-type: application/grpc`, `te: trailers`) to `/kv.v1.KeyValue/Get` and `/Put`;
  latencies from h2load's per-request log. The same frames are sent once through a real gRPC
  client first, to prove the calls succeed. h2load cannot vary the body, so every Put writes the
  same value to the same key: kv-server answers it as the idempotent no-op it is (no new
  revision) while the ceiling overwrites its dict entry. The ceiling is `bench/ceiling_grpc.py`:
  a bare grpc.aio servicer of the same proto on the same event loop, with no interceptor, value
  conversion, health or reflection.
- **RSS per key**: `python -m bench.rss` puts {rss_keys:,} keys (16-byte keys, 32-byte string
  values) through `KeyValueService` into an `InMemoryStore` in a fresh interpreter, and reads
  VmRSS from /proc/self/status before and after: the difference over the number of keys.
"""


def bench_key(n: int) -> str:
    """The n-th of the keys the wrk scripts use (16 bytes, as in bench/wrk/*.lua)."""
    return f"bench-{n:010d}"


def post_all(
    port: int,
    requests: Iterator[tuple[str, str, bytes]],
    headers: Mapping[str, str] | None = None,
) -> None:
    """Send (method, path, JSON body) requests over one keep-alive connection; each must be 2xx.

    `headers`: sent with each as well (a token)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        for method, path, body in requests:
            connection.request(
                method, path, body, {"Content-Type": "application/json", **(headers or {})}
            )
            answer = connection.getresponse()
            answer.read()
            if answer.status >= 300:
                raise RuntimeError(f"{method} {path} answered {answer.status}")
    finally:
        connection.close()


def load_http(port: int, headers: Mapping[str, str] | None = None) -> None:
    """PUT the KEYS keys the wrk scripts read, so that every GET finds its key."""
    post_all(
        port,
        (
            ("PUT", f"/v1/kv/{bench_key(n)}", json.dumps({"value": f"value-{n:026d}"}).encode())
            for n in range(KEYS)
        ),
        headers,
    )


def load_etcd(port: int) -> None:
    """The same keys and values into etcd, through its JSON gateway (base64 bytes)."""

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    post_all(
        port,
        (
            (
                "POST",
                "/v3/kv/put",
                json.dumps({"key": b64(bench_key(n)), "value": b64(f'"value-{n:026d}"')}).encode(),
            )
            for n in range(KEYS)
        ),
    )


@contextmanager
def kv_server(name: str, transport: str = "http", **env: str) -> Iterator[Server]:
    """kv-server serving `transport` on a free loopback port, with `env` added to its environment.

    Its log goes to a file, as a deployment's would; with the default access log
    (`KV_ACCESS_LOG=errors`) a request answered in time writes no line. It takes
    on every connection of the load at once: the load measures what it serves,
    not its admission limit (with the default 32, a durable PUT run answered
    most of wrk's 50 connections 503, and h2load counts a gRPC UNAVAILABLE,
    sent with HTTP status 200, as served).
    """
    port = free_port()
    variable = TRANSPORTS[transport].port.variable
    settings = {
        "KV_HOST": HOST,
        "TRANSPORT": transport,
        variable: str(port),
        "KV_MAX_CONCURRENT_REQUESTS": str(2 * loads.CONNECTIONS),
        **env,
    }
    kv = shutil.which("kv-server", path=str(Path(sys.executable).parent))
    with running(name, [kv or "kv-server"], ports={transport: port}, env=settings) as server:
        yield server


def measured(server: Server, load: Callable[[], loads.LoadResult]) -> loads.LoadResult:
    """Run `load` and add the server's CPU time per request to its result."""
    before = cpu_seconds(server.process.pid)
    result = load()
    spent = cpu_seconds(server.process.pid) - before
    return replace(result, cpu_us_per_request=spent / max(result.requests, 1) * 1e6)


def http_phase(results: Results, duration: float) -> None:
    with (
        kv_server("kv-http") as kv,
        running(
            "ceiling-http",
            python_module("bench.ceiling_http", str(port := free_port())),
            ports={"http": port},
        ) as ceiling,
    ):
        for server in (kv, ceiling):
            load_http(server.ports["http"])
        for operation in ("get", "put"):
            for name, server in (("kv", kv), ("ceiling", ceiling)):
                url = f"http://{HOST}:{server.ports['http']}"
                results[f"{name}-http-{operation}"] = measured(
                    server,
                    partial(loads.wrk, url, f"kv_{operation}", duration=duration, keys=KEYS),
                )


def etcd_phase(results: Results, duration: float) -> None:
    client, peer = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="kv-bench-etcd-") as data:
        command = [
            "etcd",
            "--name",
            "bench",
            "--data-dir",
            data,
            "--listen-client-urls",
            f"http://{HOST}:{client}",
            "--advertise-client-urls",
            f"http://{HOST}:{client}",
            "--listen-peer-urls",
            f"http://{HOST}:{peer}",
            "--initial-advertise-peer-urls",
            f"http://{HOST}:{peer}",
            "--initial-cluster",
            f"bench=http://{HOST}:{peer}",
            "--log-level",
            "error",
        ]
        with running("etcd", command, ports={"client": client}) as etcd:
            load_etcd(client)
            for operation in ("get", "put"):
                results[f"etcd-{operation}"] = measured(
                    etcd,
                    partial(
                        loads.wrk,
                        f"http://{HOST}:{client}",
                        f"etcd_{operation}",
                        duration=duration,
                        keys=KEYS,
                    ),
                )


def durable_phase(results: Results, duration: float) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="kv-bench-sqlite-") as data,
        kv_server("kv-sqlite", KV_STORE="sqlite", KV_DATA_DIR=data) as kv,
    ):
        load_http(kv.ports["http"])
        url = f"http://{HOST}:{kv.ports['http']}"
        results["kv-sqlite-put"] = measured(
            kv, partial(loads.wrk, url, "kv_put", duration=duration, keys=KEYS)
        )


def grpc_phase(results: Results, duration: float) -> None:
    from google.protobuf import struct_pb2

    from kv.v1 import kv_pb2

    value = struct_pb2.Value(string_value=f"value-{0:026d}")
    get = kv_pb2.GetRequest(key=bench_key(0)).SerializeToString()
    put = kv_pb2.PutRequest(key=bench_key(0), value=value).SerializeToString()
    with (
        kv_server("kv-grpc", "grpc") as kv,
        running(
            "ceiling-grpc",
            python_module("bench.ceiling_grpc", str(port := free_port())),
            ports={"grpc": port},
        ) as ceiling,
    ):
        for server in (kv, ceiling):
            seed_grpc(server.ports["grpc"], put, get)
        for operation, message in (("put", put), ("get", get)):
            for name, server in (("kv", kv), ("ceiling", ceiling)):
                url = f"http://{HOST}:{server.ports['grpc']}/kv.v1.KeyValue/{operation.title()}"
                results[f"{name}-grpc-{operation}"] = measured(
                    server, partial(loads.h2load_grpc, url, message, duration=duration)
                )


def rss_per_key() -> float:
    done = subprocess.run(
        python_module("bench.rss", str(RSS_KEYS)),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    return float(json.loads(done.stdout)["bytes_per_key"])


def seed_grpc(port: int, put: bytes, get: bytes) -> None:
    """Send the prepared Put, then Get, once with a real client: both must answer OK.

    h2load only sees HTTP statuses; this proves the frames are calls that succeed.
    """
    import grpc

    with grpc.insecure_channel(f"{HOST}:{port}") as channel:
        for method, message in (("Put", put), ("Get", get)):
            call = channel.unary_unary(f"/kv.v1.KeyValue/{method}")
            call(message, timeout=10)


def tool_version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "not installed"
    return (done.stdout or done.stderr).strip().splitlines()[0]


def machine_facts() -> list[str]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    packages = ", ".join(
        f"{name} {version(name)}" for name in ("aiohttp", "grpcio", "protobuf", "uvloop", "orjson")
    )
    return [
        f"- Machine: {os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {packages}",
        f"- Load generators: {tool_version(['wrk', '--version'])}; "
        f"{tool_version(['h2load', '--version'])}; baseline: {tool_version(['etcd', '--version'])}",
        f"- Load average when the run started: {os.getloadavg()[0]:.2f} "
        "(other work on the machine makes every figure noisy; compare the ratios)",
    ]


def write_report(results: Results, rss: float | None, command: str, duration: float) -> None:
    facts = machine_facts()
    section = "\n".join(
        [
            "## Throughput and latency against the ceilings and etcd",
            "",
            f"Produced by `{command}` on {time.strftime('%Y-%m-%d %H:%M %Z')}. Every figure is one "
            f"load of {duration:g} s at {loads.CONNECTIONS} connections on loopback; each ratio "
            "compares two loads of the same run (requests per second, ours / theirs).",
            "",
            report.table(COMPARISONS, results, NAMES, rss, RSS_TARGET_BYTES),
            "",
            "![requests per second](benchmarks.png)",
            "",
            *facts,
            "",
            METHOD.format(rss_keys=RSS_KEYS),
        ]
    )
    report.write_section(ROOT / "docs" / "benchmarks.md", section)
    report.chart(
        ROOT / "docs" / "benchmarks.png",
        CHART_GROUPS,
        results,
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {duration:g} s per load",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per load (8)")
    parser.add_argument("--only", default=",".join(PHASES), help="comma list of phases")
    parser.add_argument(
        "--write", action="store_true", help="write docs/ even when only some phases ran"
    )
    arguments = parser.parse_args()
    phases = [phase.strip() for phase in arguments.only.split(",") if phase.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}; known: {', '.join(PHASES)}")
    runners: dict[str, Callable[[Results, float], None]] = {
        "http": http_phase,
        "etcd": etcd_phase,
        "durable": durable_phase,
        "grpc": grpc_phase,
    }
    results: Results = {}
    rss = None
    for phase in phases:
        print(f"bench: {phase} ...", file=sys.stderr, flush=True)
        if phase == "rss":
            rss = rss_per_key()
        else:
            runners[phase](results, arguments.duration)
    print(report.table(COMPARISONS, results, NAMES, rss, RSS_TARGET_BYTES))
    if phases != list(PHASES) and not arguments.write:
        print("bench: not every phase ran; docs/ left as they are (--write to write them)")
        return
    command = (
        "make bench"
        if len(sys.argv) == 1
        else shlex.join(["python", "-m", "bench.run", *sys.argv[1:]])
    )
    write_report(results, rss, command, arguments.duration)


if __name__ == "__main__":
    main()
