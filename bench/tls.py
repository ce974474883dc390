"""What TLS and access control cost: the same GET load at kv-server with TLS off, TLS on, and
TLS plus an auth file, in one run.

    python -m bench.tls [--duration S] [--rounds R]      (make bench-tls)

Starts kv-server three times on free loopback ports (TRANSPORT=http,grpc,resp,
the memory store): plain; with KV_TLS_CERT_FILE/KV_TLS_KEY_FILE (a P-256
certificate made here with the openssl command); and with TLS and a
KV_AUTH_FILE, every request carrying the token (wrk's Authorization header,
h2load's authorization metadata, redis-benchmark -a). It loads the same keys
into each, and drives each transport with the C load generators over long-lived
connections: wrk (HTTP GET, 50 connections), h2load (gRPC Get, 50 HTTP/2
connections), redis-benchmark (RESP GET, 50 clients, no pipelining). So it
measures what encryption adds per request, not handshakes. The servers take
turns round by round and the round with the median throughput is reported,
so a burst of other work on the shared machine slows both alike; the
server's CPU time per request is measured too, which the load generators'
own TLS work on the same cores does not move. Prints a Markdown table with
the ratios TLS / plain (docs/benchmarks.md, "TLS").
"""

from __future__ import annotations

import argparse
import csv
import io
import secrets
import ssl
import subprocess
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from bench import loads
from bench.kvserver import kv_server
from bench.processes import HOST, Server, cpu_seconds, free_port, python_module, running
from kv.domain.access import token_digest
from kv.v1 import kv_pb2

KEYS = 1000
CLIENTS = 50
TRANSPORTS = ("http", "grpc", "resp")


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for 127.0.0.1 and its key."""
    cert, key = directory / "server.crt", directory / "server.key"
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt"]
    command += ["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
    command += ["-addext", f"subjectAltName=IP:{HOST},DNS:localhost"]
    command += ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, capture_output=True, check=True, timeout=60)
    return cert, key


def write_auth_file(directory: Path, token: str) -> Path:
    """An auth file of one principal, "bench", whose `token` may read and write every key."""
    auth_file = directory / "auth.toml"
    auth_file.write_text(
        f'[[principal]]\nname = "bench"\ntoken_sha256 = "{token_digest(token)}"\n'
        'read = []\nwrite = [""]\n'
    )
    return auth_file


@dataclass(frozen=True)
class Secured:
    """kv-server with TLS and an auth file: its certificate (the client's CA) and a token."""

    server: Server
    ca: Path
    token: str

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca)


@contextmanager
def secured_kv_server(name: str, transport: str) -> Iterator[Secured]:
    """`kvserver.kv_server` serving `transport` with TLS on and an auth file of one token."""
    with tempfile.TemporaryDirectory(prefix="kv-bench-secured-") as scratch:
        cert, key = make_certificate(Path(scratch))
        token = secrets.token_urlsafe(32)
        env = {"KV_TLS_CERT_FILE": str(cert), "KV_TLS_KEY_FILE": str(key)}
        env["KV_AUTH_FILE"] = str(write_auth_file(Path(scratch), token))
        with kv_server(name, transport, **env) as server:
            yield Secured(server, cert, token)


def redis_get(port: int, ca: Path | None, requests: int, token: str | None) -> loads.LoadResult:
    """redis-benchmark GET over the loaded keys; its requests per second (no latencies)."""
    command = ["redis-benchmark", "-h", HOST, "-p", str(port), "-t", "get", "-c", str(CLIENTS)]
    command += ["-n", str(requests), "-r", str(KEYS), "--csv"]
    if ca is not None:
        command += ["--tls", "--cacert", str(ca)]
    if token is not None:
        command += ["-a", token]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    row = next(csv.DictReader(io.StringIO(done.stdout)))
    latency = float(row.get("p50_latency_ms") or 0.0)
    p99 = float(row.get("p99_latency_ms") or 0.0)
    return loads.LoadResult(float(row["rps"]), latency, p99, requests, 0)


def load_keys(http_url: str, ca: Path | None, token: str | None) -> None:
    """PUT KEYS keys (bench-NNNNNNNNNN) over HTTP: the loads below read them."""
    context = None if ca is None else ssl.create_default_context(cafile=ca)
    headers = {"Content-Type": "application/json"} | bearer(token)
    for n in range(KEYS):
        request = urllib.request.Request(
            f"{http_url}/v1/kv/bench-{n:010d}",
            data=f'{{"value": "value-{n:026d}"}}'.encode(),
            headers=headers,
            method="PUT",
        )
        with urllib.request.urlopen(request, timeout=60, context=context) as response:
            response.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=3, help="whole seconds per load")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per point")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kv-bench-tls-") as scratch, ExitStack() as stack:
        cert, key = make_certificate(Path(scratch))
        token = secrets.token_urlsafe(32)
        auth_file = write_auth_file(Path(scratch), token)
        sides: dict[str, dict[str, Callable[[], loads.LoadResult]]] = {}
        for side, ca, sent in (("plain", None, None), ("tls", cert, None), ("auth", cert, token)):
            ports = {name: free_port() for name in TRANSPORTS}
            env = {f"KV_{name.upper()}_PORT": str(port) for name, port in ports.items()}
            env |= {"TRANSPORT": ",".join(TRANSPORTS), "KV_HOST": HOST, "KV_STORE": "memory"}
            if ca is not None:
                env |= {"KV_TLS_CERT_FILE": str(cert), "KV_TLS_KEY_FILE": str(key)}
            if sent is not None:
                env |= {"KV_AUTH_FILE": str(auth_file)}
            server = stack.enter_context(
                running(f"tls-{side}", python_module("kv.server"), ports=ports, env=env)
            )
            scheme = "http" if ca is None else "https"
            load_keys(f"{scheme}://{HOST}:{ports['http']}", ca, sent)
            sides[side] = {
                transport: partial(measured, server, load)
                for transport, load in _loads(scheme, ports, ca, sent, args.duration).items()
            }
        rounds: dict[tuple[str, str], list[loads.LoadResult]] = {}
        for _ in range(args.rounds):
            for transport in TRANSPORTS:
                for side, measure in sides.items():
                    rounds.setdefault((transport, side), []).append(measure[transport]())
    print(report({point: _median(found) for point, found in rounds.items()}, args))


def bearer(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def _loads(
    scheme: str, ports: dict[str, int], ca: Path | None, token: str | None, duration: float
) -> dict[str, Callable[[], loads.LoadResult]]:
    get = kv_pb2.GetRequest(key="bench-0000000001").SerializeToString()
    grpc_url = f"{scheme}://{HOST}:{ports['grpc']}/kv.v1.KeyValue/Get"
    http_url = f"{scheme}://{HOST}:{ports['http']}"
    script, script_env = ("kv_get", {}) if token is None else ("kv_get_auth", {"TOKEN": token})
    metadata = [f"authorization: Bearer {token}"] if token is not None else []
    return {
        "http": lambda: loads.wrk(http_url, script, duration=duration, keys=KEYS, env=script_env),
        "grpc": lambda: loads.h2load_grpc(grpc_url, get, duration=duration, headers=metadata),
        # redis-benchmark takes a request count: about `duration` seconds at 10,000/s.
        "resp": lambda: redis_get(ports["resp"], ca, int(duration * 10_000), token),
    }


def measured(server: Server, load: Callable[[], loads.LoadResult]) -> loads.LoadResult:
    """Run `load` and add the server's CPU time per request to its result."""
    before = cpu_seconds(server.process.pid)
    result = load()
    spent = cpu_seconds(server.process.pid) - before
    return replace(result, cpu_us_per_request=spent / max(result.requests, 1) * 1e6)


def _median(found: list[loads.LoadResult]) -> loads.LoadResult:
    return sorted(found, key=lambda load: load.requests_per_second)[len(found) // 2]


def report(results: dict[tuple[str, str], loads.LoadResult], args: argparse.Namespace) -> str:
    lines = [
        f"GET over long-lived connections, median of {args.rounds} alternating rounds"
        f" of about {args.duration} s per point, {CLIENTS} connections",
        "",
        "| transport | TLS off | TLS on | TLS and auth on | throughput, TLS / off |"
        " server CPU/req, TLS / off | throughput, TLS and auth / off |"
        " server CPU/req, TLS and auth / off |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for transport in TRANSPORTS:
        plain, tls, auth = (results[transport, side] for side in ("plain", "tls", "auth"))
        lines.append(
            f"| {transport} | {_cell(plain)} | {_cell(tls)} | {_cell(auth)} | "
            f"{_ratio(tls, plain)} | {_cpu_ratio(tls, plain)} | "
            f"{_ratio(auth, plain)} | {_cpu_ratio(auth, plain)} |"
        )
    return "\n".join(lines)


def _ratio(result: loads.LoadResult, base: loads.LoadResult) -> str:
    return f"{result.requests_per_second / base.requests_per_second:.2f}x"


def _cpu_ratio(result: loads.LoadResult, base: loads.LoadResult) -> str:
    return f"{(result.cpu_us_per_request or 0.0) / (base.cpu_us_per_request or 1.0):.2f}x"


def _cell(result: loads.LoadResult) -> str:
    errors = f", {result.errors} errors" if result.errors else ""
    cpu = f", {result.cpu_us_per_request:.0f} µs CPU/req" if result.cpu_us_per_request else ""
    return f"{result.requests_per_second:,.0f}/s (p99 {result.p99_ms:.2f} ms{cpu}{errors})"


if __name__ == "__main__":
    main()
