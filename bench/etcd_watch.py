"""Watch latency over etcd, across replicas: `python -m bench.etcd_watch` (`make bench-etcd-watch`).

A 3-member etcd cluster on loopback and two kv-server replicas over it (HTTP).
WRITES puts by CONCURRENCY writers go through replica 1 (a process of their
own, as in bench.watch), first with no watcher, then with WATCHERS
`GET /v1/watch` streams open on replica 2 (which follows etcd with one shared Watch stream).
Reported as bench.watch reports it: writes/s in both phases and their ratio,
and the latency from a put's acknowledgement by replica 1 to the arrival of
its event at each watcher on replica 2, p50/p99/max over every (watcher,
event) pair; and the CPU replica 2 (the "server" of bench.watch's table) spent per write and per
(watcher, event) pair. Writers,
watchers, both replicas and etcd share the machine's cores: figures to
compare, not absolute. Unlike bench.watch's single server, the writes do not
wait for the watchers' replica: when it cannot keep up, its events queue and
the latency grows with the run.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import uvloop

from bench.etcd_cluster import etcd_cluster
from bench.kvserver import kv_server
from bench.processes import HOST
from bench.watch import measure_streams, table

WATCHERS = 100
WRITES = 500
CONCURRENCY = 4


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
            write_url, watch_url = (f"http://{HOST}:{s.ports['http']}" for s in (one, two))
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                figures = runner.run(
                    measure_streams(
                        write_url, watch_url, two.process.pid, watchers, writes, concurrency
                    )
                )
            # The watched phase's CPU of replica 2 is all fan-out: no write goes through it.
            pairs = max(figures["events"], 1)
            figures["watch_cpu_us_per_event"] = figures["loaded_server_us"] * writes / pairs
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
        "(watcher, event) while the watched writes ran"
    )
    if figures["missing"]:
        raise SystemExit(f"{figures['missing']:.0f} (watcher, event) pairs never arrived")


if __name__ == "__main__":
    main()
