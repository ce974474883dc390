"""A/B of kv-server's CPU time per HTTP request: two variants under the same alternating loads.

    python -m bench.ab [--rounds 5] [--duration 3] [--op get|put] B
    B: ceiling            bench/ceiling_http.py (what `make bench` compares against)
       no-metrics         kv-server with the request metrics switched off (a patch made
                          only here, to price them: kv-server has no such setting)
       NAME=VALUE[,...]   kv-server with these environment variables, e.g. KV_ACCESS_LOG=all

A is kv-server in its default configuration. Each round loads A, then B, with
`wrk` for `duration` seconds; the medians of the rounds are printed. CPU time
per request (from /proc) is steadier than requests per second on a shared
machine, and alternating makes a burst of other work slow both sides alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from contextlib import ExitStack

from bench import loads
from bench.kvserver import KEYS, load_http
from bench.processes import HOST, Server, cpu_seconds, free_port, python_module, running
from kv.transports import TRANSPORTS

PORT_VARIABLE = TRANSPORTS["http"].port.variable
NO_METRICS = (
    "import kv.observability.metrics as m; "
    "m.Metrics.observe_request = lambda *args: None; "
    "import kv.server; kv.server.main()"
)


def command(variant: str, port: int) -> tuple[list[str], dict[str, str]]:
    """How to start `variant` on `port`: its command line and environment."""
    env = {"KV_HOST": HOST, PORT_VARIABLE: str(port)}
    if variant == "ceiling":
        return python_module("bench.ceiling_http", str(port)), {}
    if variant == "no-metrics":
        return [sys.executable, "-c", NO_METRICS], env
    if variant == "default":
        return python_module("kv.server"), env
    pairs = dict(pair.split("=", 1) for pair in variant.split(","))
    return python_module("kv.server"), {**env, **pairs}


def cpu_per_request(server: Server, op: str, duration: float) -> float:
    before = cpu_seconds(server.process.pid)
    url = f"http://{HOST}:{server.ports['http']}"
    result = loads.wrk(url, f"kv_{op}", duration=duration, keys=KEYS)
    return (cpu_seconds(server.process.pid) - before) / max(result.requests, 1) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", help="ceiling, no-metrics, or NAME=VALUE[,...]")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per load")
    parser.add_argument("--op", choices=("get", "put"), default="get")
    arguments = parser.parse_args()
    load_before = os.getloadavg()[0]
    samples: dict[str, list[float]] = {"default": [], arguments.variant: []}
    with ExitStack() as stack:
        servers = {}
        for variant in samples:
            port = free_port()
            args, env = command(variant, port)
            servers[variant] = stack.enter_context(
                running(variant.replace("=", "-"), args, ports={"http": port}, env=env)
            )
            load_http(port)
        for _ in range(arguments.rounds):
            for variant, server in servers.items():
                samples[variant].append(cpu_per_request(server, arguments.op, arguments.duration))
    a, b = (statistics.median(values) for values in samples.values())
    for variant, values in samples.items():
        print(f"{variant}: " + " ".join(f"{value:.1f}" for value in values) + " µs CPU/req")
    print(
        f"{arguments.op.upper()} median: default {a:.1f} µs, {arguments.variant} {b:.1f} µs, "
        f"difference {a - b:+.1f} µs; load average {load_before:.1f} at the start"
    )


if __name__ == "__main__":
    main()
