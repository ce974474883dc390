"""kv-server under the benchmark: started on free loopback ports, its keys loaded, its CPU timed.

The loads (bench/wrk/*.lua, h2load, redis-benchmark) read KEYS keys named by
`bench_key`; `load_http` and `load_etcd` put them first, so every GET finds its
key.
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import ssl
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from bench import loads
from bench.processes import HOST, Server, cpu_seconds, free_port, running
from kv.transports import TRANSPORTS

KEYS = 1000


def bench_key(n: int) -> str:
    """The n-th of the keys the wrk scripts use (16 bytes, as in bench/wrk/*.lua)."""
    return f"bench-{n:010d}"


def post_all(
    port: int,
    requests: Iterator[tuple[str, str, bytes]],
    headers: Mapping[str, str] | None = None,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Send (method, path, JSON body) requests over one keep-alive connection; each must be 2xx.

    `headers`: sent with each as well (a token); `tls`: over HTTPS with this context."""
    connection = (
        http.client.HTTPConnection(HOST, port, timeout=10)
        if tls is None
        else http.client.HTTPSConnection(HOST, port, timeout=10, context=tls)
    )
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


def load_http(
    port: int, headers: Mapping[str, str] | None = None, tls: ssl.SSLContext | None = None
) -> None:
    """PUT the KEYS keys the wrk scripts read, so that every GET finds its key."""
    post_all(
        port,
        (
            ("PUT", f"/v1/kv/{bench_key(n)}", json.dumps({"value": f"value-{n:026d}"}).encode())
            for n in range(KEYS)
        ),
        headers,
        tls,
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


def seed_grpc(
    port: int,
    put: bytes,
    get: bytes,
    ca: Path | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
) -> None:
    """Send the prepared Put, then Get, once with a real client: both must answer OK.

    h2load only sees HTTP statuses; this proves the frames are calls that
    succeed. `ca`: over TLS, trusting this certificate; `metadata`: sent with
    each call (a token).
    """
    import grpc

    target = f"{HOST}:{port}"
    channel = (
        grpc.insecure_channel(target)
        if ca is None
        else grpc.secure_channel(target, grpc.ssl_channel_credentials(ca.read_bytes()))
    )
    with channel:
        for method, message in (("Put", put), ("Get", get)):
            call = channel.unary_unary(f"/kv.v1.KeyValue/{method}")
            call(message, timeout=10, metadata=metadata)
