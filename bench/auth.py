"""What access control costs a GET: kv-server with an auth file against without, in one run.

    python -m bench.auth [--rounds 5] [--duration 3] [--requests 100000]

Two kv-servers on the memory store serve HTTP and RESP on free loopback ports:
one in the default configuration (no auth file: protected mode, loopback only),
one with an auth file of one principal. Each round loads one, then the other:
HTTP GETs with `wrk` (50 connections, with `Authorization: Bearer` to the
secured one), then RESP GETs with `redis-benchmark -t get` (50 clients; `-a`
to the secured one). The kv-server's CPU time per request (from /proc) is
compared, as a ratio secured ÷ default of the medians over the rounds (and the
range of the rounds' own ratios); taking turns, each first every other round,
makes a burst of other work on the shared machine slow both alike.
Prints a Markdown table (docs/benchmarks.md, "Access control").
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench import loads
from bench.kvserver import KEYS, load_http
from bench.processes import HOST, Server, cpu_seconds, free_port, running
from bench.tls import write_auth_file
from kv.domain import Access, Guard, Principal, Principals
from kv.domain.access import token_digest

CLIENTS = 50


@contextmanager
def kv_server(name: str, env: dict[str, str]) -> Iterator[Server]:
    ports = {"http": free_port(), "resp": free_port()}
    env = {
        **env,
        "TRANSPORT": "http,resp",
        "KV_HOST": HOST,
        "KV_HTTP_PORT": str(ports["http"]),
        "KV_RESP_PORT": str(ports["resp"]),
    }
    kv = shutil.which("kv-server", path=str(Path(sys.executable).parent)) or "kv-server"
    with running(f"kv-auth-{name}", [kv], ports=ports, env=env) as server:
        yield server


def http_cpu(server: Server, token: str | None, duration: float) -> float:
    """µs of kv-server CPU per HTTP GET."""
    before = cpu_seconds(server.process.pid)
    url = f"http://{HOST}:{server.ports['http']}"
    if token is None:
        result = loads.wrk(url, "kv_get", duration=duration, keys=KEYS)
    else:
        result = loads.wrk(url, "kv_get_auth", duration=duration, keys=KEYS, env={"TOKEN": token})
    if result.errors:
        raise RuntimeError(f"{result.errors} GETs failed (token {'sent' if token else 'none'})")
    return (cpu_seconds(server.process.pid) - before) / max(result.requests, 1) * 1e6


def resp_cpu(server: Server, token: str | None, requests: int) -> float:
    """µs of kv-server CPU per RESP GET (redis-benchmark; `-a` with a token)."""
    command = ["redis-benchmark", "-h", HOST, "-p", str(server.ports["resp"]), "-t", "get"]
    command += ["-c", str(CLIENTS), "-n", str(requests), "-r", "1000", "-q"]
    if token is not None:
        command += ["-a", token]
    before = cpu_seconds(server.process.pid)
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    if "NOAUTH" in done.stdout + done.stderr or "WRONGPASS" in done.stdout + done.stderr:
        raise RuntimeError(f"redis-benchmark was refused: {done.stdout}{done.stderr}")
    return (cpu_seconds(server.process.pid) - before) / requests * 1e6


def measure(rounds: int, duration: float, requests: int) -> dict[tuple[str, str], list[float]]:
    token = secrets.token_urlsafe(32)
    samples: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as directory, ExitStack() as stack:
        auth_file = write_auth_file(Path(directory), token)
        servers = {
            "off": (stack.enter_context(kv_server("off", {})), None),
            "on": (stack.enter_context(kv_server("on", {"KV_AUTH_FILE": str(auth_file)})), token),
        }
        for server, sent in servers.values():
            load_http(
                server.ports["http"], None if sent is None else {"Authorization": f"Bearer {sent}"}
            )
        order = list(servers.items())
        for _ in range(rounds):
            order.reverse()  # each goes first every other round: no order effect
            for variant, (server, sent) in order:
                samples.setdefault(("HTTP GET", variant), []).append(
                    http_cpu(server, sent, duration)
                )
                samples.setdefault(("RESP GET", variant), []).append(
                    resp_cpu(server, sent, requests)
                )
    samples[("steps", "on")] = [steps_us(token)]
    return samples


def steps_us(token: str) -> float:
    """µs of the access-control steps of one request alone, timed in-process: find the
    token's principal, bind it, check a key against its rules (the best of 5 runs)."""
    principal = Principal.of("bench", write=[""])
    guard = Guard(Principals({token_digest(token): principal}))

    def one_request() -> None:
        caller = guard.admit(token, "127.0.0.1")
        with guard.acting_as(caller):
            guard.require(Access.READ, "bench-0000000001")

    runs = 100_000
    return min(timeit.repeat(one_request, number=runs, repeat=5)) / runs * 1e6


def table(samples: dict[tuple[str, str], list[float]], command: str, load: float) -> str:
    lines = [
        "| request | CPU µs/request, no auth file | with an auth file | ratio | rounds' ratios |",
        "|---|---:|---:|---:|---|",
    ]
    for operation in ("HTTP GET", "RESP GET"):
        offs, ons = samples[(operation, "off")], samples[(operation, "on")]
        off, on = statistics.median(offs), statistics.median(ons)
        ratios = sorted(b / a for a, b in zip(offs, ons, strict=True))
        spread = f"{ratios[0]:.2f} to {ratios[-1]:.2f}"
        lines.append(f"| {operation} | {off:.1f} | {on:.1f} | {on / off:.3f} | {spread} |")
    lines.append("")
    lines.append(
        f"The access-control steps alone (token to principal, binding, one rule check), timed "
        f"in-process: {samples[('steps', 'on')][0]:.2f} µs per request."
    )
    lines.append("")
    lines.append(f"`{command}`; load average {load:.1f} at the start; medians of the rounds.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per HTTP load")
    parser.add_argument("--requests", type=int, default=100_000, help="RESP GETs per load")
    arguments = parser.parse_args()
    load = os.getloadavg()[0]
    samples = measure(arguments.rounds, arguments.duration, arguments.requests)
    command = "python -m bench.auth " + " ".join(sys.argv[1:])
    print(table(samples, command.strip(), load))


if __name__ == "__main__":
    main()
