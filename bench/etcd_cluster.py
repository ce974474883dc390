"""`make bench` (etcd part): kv over a 3-member etcd cluster against etcd's own JSON gateway.

    python -m bench.etcd_cluster [--duration SECONDS] [--write]

One run on loopback: a 3-member etcd cluster, kv-server with KV_STORE=etcd as one replica and as
two (two wrk processes at once, one per replica, half the connections each), and etcd's JSON
gateway (`/v3/kv/range`, `/v3/kv/put` on one member) with the same keys, values and connections.
Prints a Markdown table; with --write it replaces its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.kvserver import KEYS, kv_server, load_etcd, load_http
from bench.loads import BENCH_DIR, CONNECTIONS, LoadResult, parse_wrk
from bench.processes import HOST, Server, cpu_seconds, free_port, running

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- bench/etcd_cluster.py: begin (generated) -->"
END = "<!-- bench/etcd_cluster.py: end -->"
MEMBERS = 3


@contextmanager
def etcd_cluster(data: Path) -> Iterator[list[Server]]:
    """MEMBERS etcd members on loopback (each Server's port "client")."""
    clients = [free_port() for _ in range(MEMBERS)]
    peers = [free_port() for _ in range(MEMBERS)]
    initial = ",".join(f"m{n}=http://{HOST}:{peers[n]}" for n in range(MEMBERS))
    members: list[Server] = []
    with ExitStack() as stack:
        for n in range(MEMBERS):
            client, peer = f"http://{HOST}:{clients[n]}", f"http://{HOST}:{peers[n]}"
            command = [
                "etcd",
                *("--name", f"m{n}", "--data-dir", str(data / f"m{n}")),
                *("--listen-client-urls", client, "--advertise-client-urls", client),
                *("--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer),
                *("--initial-cluster", initial, "--initial-cluster-state", "new"),
                *("--log-level", "error", "--logger", "zap"),
            ]
            members.append(
                stack.enter_context(running(f"etcd-m{n}", command, ports={"client": clients[n]}))
            )
        yield members


def wrk(urls: list[str], script: str, duration: float) -> LoadResult:
    """bench/wrk/`script`.lua against every url at once, CONNECTIONS split between them."""
    per_url = max(CONNECTIONS // len(urls), 1)
    env = {"KEYS": str(KEYS), "BENCH_DIR": str(BENCH_DIR), "PATH": "/usr/bin:/bin"}

    def one(url: str) -> LoadResult:
        command = ["wrk", "-t1", f"-c{per_url}", f"-d{duration:g}s", "--latency"]
        command += ["-s", str(BENCH_DIR / "wrk" / f"{script}.lua"), url]
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, check=True, timeout=duration + 30
        )
        return parse_wrk(done.stdout)

    with ThreadPoolExecutor(len(urls)) as pool:
        results = list(pool.map(one, urls))
    return LoadResult(
        sum(r.requests_per_second for r in results),
        max(r.p50_ms for r in results),
        max(r.p99_ms for r in results),
        sum(r.requests for r in results),
        sum(r.errors for r in results),
    )


# name -> (the load's result, kv-server CPU µs per request, etcd CPU µs per request: 3 members)
Results = dict[str, tuple[LoadResult, float | None, float]]


def measured(
    urls: list[str], script: str, duration: float, kv: list[Server], etcd: list[Server]
) -> tuple[LoadResult, float | None, float]:
    """`wrk(...)` with the CPU time kv-server (all replicas) and etcd (all members) spent on it."""

    def cpu(servers: list[Server]) -> float:
        return sum(cpu_seconds(server.process.pid) for server in servers)

    kv_before, etcd_before = cpu(kv), cpu(etcd)
    result = wrk(urls, script, duration)
    requests = max(result.requests, 1)
    kv_us = (cpu(kv) - kv_before) / requests * 1e6 if kv else None
    return result, kv_us, (cpu(etcd) - etcd_before) / requests * 1e6


def measure(duration: float) -> Results:
    results: Results = {}
    with (
        tempfile.TemporaryDirectory(prefix="kv-bench-etcd-cluster-") as data,
        etcd_cluster(Path(data)) as members,
    ):
        clients = [member.ports["client"] for member in members]
        endpoints = ",".join(f"{HOST}:{port}" for port in clients)
        env = {"KV_STORE": "etcd", "KV_ETCD_ENDPOINTS": endpoints}
        with kv_server("kv-etcd-1", **env) as one, kv_server("kv-etcd-2", **env) as two:
            load_http(one.ports["http"])
            load_etcd(clients[0])
            gateway = [f"http://{HOST}:{clients[0]}"]
            replicas = [f"http://{HOST}:{s.ports['http']}" for s in (one, two)]
            for op in ("get", "put"):
                results[f"etcd-gateway-{op}"] = measured(
                    gateway, f"etcd_{op}", duration, [], members
                )
                results[f"kv-1-{op}"] = measured(replicas[:1], f"kv_{op}", duration, [one], members)
                results[f"kv-2-{op}"] = measured(
                    replicas, f"kv_{op}", duration, [one, two], members
                )
    return results


def table(results: Results, duration: float, command: str, load: float) -> str:
    rows = [
        "| operation | server | requests/s | p50 ms | p99 ms | errors | / gateway "
        "| kv CPU µs/req | etcd CPU µs/req |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for operation in ("get", "put"):
        base = results[f"etcd-gateway-{operation}"][0]
        for name, label in (
            ("etcd-gateway", "etcd JSON gateway (one member)"),
            ("kv-1", "kv-server, 1 replica"),
            ("kv-2", "kv-server, 2 replicas"),
        ):
            r, kv_us, etcd_us = results[f"{name}-{operation}"]
            ratio = r.requests_per_second / base.requests_per_second
            kv_cpu = "-" if kv_us is None else f"{kv_us:.0f}"
            rows.append(
                f"| {operation.upper()} | {label} | {r.requests_per_second:,.0f} | "
                f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.errors} | {ratio:.2f}x | "
                f"{kv_cpu} | {etcd_us:.0f} |"
            )
    return "\n".join(
        [
            "## kv over a 3-member etcd cluster",
            "",
            f"`{command}` (part of `make bench`): {duration:g} s per row, "
            f"{CONNECTIONS} connections in all (two replicas: half each), {KEYS} keys of 16 "
            "bytes, 32-byte values; one "
            f"3-member etcd 3.4 cluster on loopback for every row; load average {load:.2f} at "
            "the start. Everything (3 etcd members, the kv replicas, wrk) shares the machine's "
            "cores, so a second replica adds CPU contention, not CPU. CPU columns: the CPU time "
            "the kv-server replicas, and the three etcd members together, spent per request "
            "(from /proc, all threads). See docs/etcd.md.",
            "",
            *rows,
        ]
    )


def write_section(section: str) -> None:
    text = DOC.read_text()
    block = f"{BEGIN}\n{section.strip()}\n{END}"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        text = head + block + rest.partition(END)[2]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per row")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    command = "python -m bench.etcd_cluster" + (f" --duration {args.duration:g}")
    load = os.getloadavg()[0]
    section = table(measure(args.duration), args.duration, command, load)
    print(section)
    if args.write:
        write_section(section)


if __name__ == "__main__":
    main()
