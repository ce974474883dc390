"""`make bench`: kv-server against its peers and the bare ceilings, every row in one run.

    python -m bench.run [--quick] [--duration SECONDS] [--only resp,http,...] [--write]

Each phase starts its servers on free loopback ports, loads them for a
bounded time (wrk, h2load, redis-benchmark) and stops them by PID. The rows
of bench/rows.py are printed; after a run of every phase (or with --write)
they are also written to docs/benchmarks.md (between markers) with the chart
docs/benchmarks.png. --quick (`make bench-quick`) runs the same phases with
2-second loads and fewer keys for the memory row, in under 2 minutes.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from bench import loads, phases, report, resp
from bench.rows import ISSUE_ROWS, OTHER_ROWS, SECURE_ROWS, Row

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("resp", "http", "grpc", "cluster", "etcd", "durable", "rss")
FULL = {"duration": 8.0, "rss_keys": 1_000_000}
QUICK = {"duration": 2.0, "rss_keys": 100_000}

METHOD = """\
### How it is measured

Each row's command runs the phase that measures both of its figures; `make bench` runs every
phase. kv-server runs in its default configuration on the memory store unless a row says
otherwise (its log goes to a file; with `KV_ACCESS_LOG=errors` a request answered in time writes
no line), with `KV_MAX_CONCURRENT_REQUESTS=100`, twice the load's connections, so that a load
measures what it serves and not the admission limit.

- **RESP** (`resp`): `redis-benchmark -t set` then `-t get`, `-c 50 -r 1000`, pipelining off and
  `-P 16`, at kv-server, at `bench/ceiling_resp.py` (a bare uvloop + hiredis server: a dict,
  every complete command of a read run at once, one write per batch) and at `redis-server`
  without persistence (`--save "" --appendonly no`); then `SET -P 16` at kv-server with
  `KV_STORE=sqlite` and at `redis-server --appendonly yes --appendfsync always`. A load is
  {resp_single:,} requests without pipelining and {resp_pipelined:,} with it ({resp_durable:,} on
  sqlite), four times as many at the two peers, which serve several times kv-server's rate.
  redis-benchmark counts no failed requests; an error answer fails the run.
- **HTTP** (`http`): `wrk -t1 -c50 --latency` with `bench/wrk/kv_get.lua` (GET over 1,000 keys
  loaded first) and `kv_put.lua` (PUT of a new 32-byte string value each time, so every request
  is a real write) at kv-server and at `bench/ceiling_http.py`: aiohttp on the same event loop
  and JSON codec, the same routes and bodies, a dict and nothing else.
- **gRPC** (`grpc`): `h2load -c50 -m1` posting one prepared gRPC frame (`content-type:
  application/grpc`, `te: trailers`) to `/kv.v1.KeyValue/Get` and `/Put`, sent once through a
  real gRPC client first to prove the calls succeed. h2load cannot vary the body, so every Put
  writes the same value to the same key: kv-server answers it as the idempotent no-op it is
  while the ceiling (`bench/ceiling_grpc.py`, a bare grpc.aio servicer of the same proto)
  overwrites its dict entry.
- **TLS + token**: in the same phases, kv-server with `KV_TLS_CERT_FILE`/`KV_TLS_KEY_FILE` (a
  P-256 certificate made with `openssl`) and a `KV_AUTH_FILE` of one principal, every request
  carrying its token (wrk's `Authorization: Bearer`, h2load's `authorization` metadata,
  `redis-benchmark --tls -a`), under the same loads over long-lived connections, against the
  plain ceiling. The load generators' own TLS work shares the 2 cores.
- **etcd** (`cluster`): a 3-member etcd 3.4 cluster on loopback; PUT with `kv_put.lua` at
  kv-server with `KV_STORE=etcd` (one replica) and with `bench/wrk/etcd_put.lua` at one member's
  JSON gateway (`POST /v3/kv/put`, base64 key and value), the same keys, values and connections.
  The section "kv over a 3-member etcd cluster" below has GET and two replicas.
- **RSS per key** (`rss`): `python -m bench.rss {rss_keys}` puts {rss_keys:,} keys (16-byte
  keys, 32-byte string values) through `KeyValueService` into an `InMemoryStore` in a fresh
  interpreter and reads VmRSS before and after; redis-server (no persistence) gets the same keys
  and values by pipelined SETs, its VmRSS (and its own `used_memory`) read before and after.
- **Other rows** (`etcd`, `durable`): kv-server over HTTP (memory store, and `KV_STORE=sqlite`,
  which answers a PUT once it is on disk) against a single etcd node's JSON gateway.
"""


def tool_version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "not installed"
    return ((done.stdout or done.stderr).strip().splitlines() or ["?"])[0]


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
        f"{name} {version(name)}"
        for name in ("aiohttp", "grpcio", "protobuf", "uvloop", "orjson", "hiredis")
    )
    return [
        f"- Machine: {os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {packages}",
        f"- Load generators: {tool_version(['wrk', '--version'])}; "
        f"{tool_version(['h2load', '--version'])}; "
        f"{tool_version(['redis-benchmark', '--version'])}",
        f"- Peers: {tool_version(['redis-server', '--version'])}; "
        f"{tool_version(['etcd', '--version'])}",
    ]


def write_report(
    figures: phases.Figures,
    command: Callable[[Row], str],
    mode: str,
    settings: dict[str, float],
    load: tuple[float, float],
) -> None:
    duration = settings["duration"]
    single, pipelined = resp.load_sizes(duration)
    section = "\n".join(
        [
            "## Every target of the speed work, in one run",
            "",
            f"Produced by `{mode}` on {time.strftime('%Y-%m-%d %H:%M %Z')}: loads of about "
            f"{duration:g} s at {loads.CONNECTIONS} connections on loopback; each ratio compares "
            "two loads of the same run (requests per second, or bytes per key, ours / theirs). "
            f"Load average {load[0]:.2f} at the start, {load[1]:.2f} at the end (other work on "
            "the machine makes every figure noisy; compare the ratios).",
            "",
            report.table(ISSUE_ROWS, figures, command),
            "",
            "With TLS and an auth file on (every request carries a token), against the plain "
            "ceilings:",
            "",
            report.table(SECURE_ROWS, figures, command),
            "",
            "Earlier targets, against a single etcd node:",
            "",
            report.table(OTHER_ROWS, figures, command),
            "",
            "![kv-server / peer, every row](benchmarks.png)",
            "",
            *machine_facts(),
            "",
            METHOD.format(
                resp_single=single,
                resp_pipelined=pipelined,
                resp_durable=pipelined // 2,
                rss_keys=int(settings["rss_keys"]),
            ),
        ]
    )
    report.write_section(ROOT / "docs" / "benchmarks.md", section)
    report.chart(
        ROOT / "docs" / "benchmarks.png",
        [*ISSUE_ROWS, *SECURE_ROWS, *OTHER_ROWS],
        figures,
        f"{mode}: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{duration:g} s per load",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s loads, 100,000 keys for RSS")
    parser.add_argument("--duration", type=float, help="seconds per load (8; --quick: 2)")
    parser.add_argument("--only", default=",".join(PHASES), help="comma list of phases")
    parser.add_argument(
        "--write", action="store_true", help="write docs/ even when only some phases ran"
    )
    arguments = parser.parse_args()
    settings = dict(QUICK if arguments.quick else FULL)
    if arguments.duration is not None:
        settings["duration"] = arguments.duration
    chosen = [phase.strip() for phase in arguments.only.split(",") if phase.strip()]
    unknown = set(chosen) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}; known: {', '.join(PHASES)}")
    duration = settings["duration"]
    runners: dict[str, Callable[[phases.Figures], None]] = {
        "resp": lambda found: resp.phase(found, duration),
        "http": lambda found: phases.http_phase(found, duration),
        "grpc": lambda found: phases.grpc_phase(found, duration),
        "cluster": lambda found: phases.cluster_phase(found, duration),
        "etcd": lambda found: phases.etcd_phase(found, duration),
        "durable": lambda found: phases.durable_phase(found, duration),
        "rss": lambda found: phases.rss_phase(found, int(settings["rss_keys"])),
    }
    figures: phases.Figures = {}
    started = os.getloadavg()[0]
    for phase in chosen:
        print(f"bench: {phase} ...", file=sys.stderr, end=" ", flush=True)
        began = time.monotonic()
        runners[phase](figures)
        print(f"{time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
    flags = " --quick" if arguments.quick else ""
    flags += "" if arguments.duration is None else f" --duration {arguments.duration:g}"

    def command(row: Row) -> str:
        return f"python -m bench.run --only {row.phase}{flags}"

    for rows in (ISSUE_ROWS, SECURE_ROWS, OTHER_ROWS):
        print(report.table(rows, figures, command) + "\n")
    if chosen != list(PHASES) and not arguments.write:
        print("bench: not every phase ran; docs/ left as they are (--write to write them)")
        return
    mode = "make bench-quick" if arguments.quick else "make bench"
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and not arguments.quick):
        mode = "python -m bench.run " + " ".join(sys.argv[1:])
    write_report(figures, command, mode, settings, (started, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
