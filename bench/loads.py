"""Load generators: wrk for HTTP/JSON, h2load for gRPC; each run bounded in time.

Both are C programs driven from here, so the load generator is not what limits
a Python server. Each returns a `LoadResult` parsed from the tool's output.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
CONNECTIONS = 50
# wrk and h2load each get one thread: on a 2-core machine that leaves the
# other core to the server under test.
THREADS = 1
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class LoadResult:
    """Throughput, latency percentiles (milliseconds) and failed requests of one load run.

    `cpu_us_per_request` is the server's CPU time (all threads) over the
    requests served, when the caller measured it: less sensitive to other
    work on the machine than requests per second.
    """

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_us_per_request: float | None = None


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> LoadResult:
    """Read `wrk --latency` output; non-2xx/3xx answers and socket errors count as errors."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rate and p50 and p99 and total):
        raise ValueError(f"not wrk --latency output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = int(errors.group(1)) if errors else 0
    failed += sum(int(n) for n in sockets.groups()) if sockets else 0
    return LoadResult(
        float(rate.group(1)),
        _milliseconds(p50.group(1)),
        _milliseconds(p99.group(1)),
        int(total.group(1)),
        failed,
    )


def wrk(
    url: str, script: str, *, duration: float, keys: int, env: Mapping[str, str] | None = None
) -> LoadResult:
    """Run bench/wrk/`script`.lua against `url` for `duration` seconds at 50 connections.

    `env`: more variables for the script (e.g. the TOKEN it sends)."""
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{duration:g}s",
        "--latency",
        "-s",
        str(BENCH_DIR / "wrk" / f"{script}.lua"),
        url,
    ]
    script_env = {"KEYS": str(keys), "BENCH_DIR": str(BENCH_DIR), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        command,
        env={**script_env, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    )
    return parse_wrk(done.stdout)


def grpc_frame(message: bytes) -> bytes:
    """One gRPC length-prefixed message: not compressed (0), 4-byte big-endian length, bytes."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def parse_h2load(output: str, request_log: str) -> LoadResult:
    """Read h2load's summary and its per-request log (start, status, microseconds)."""
    rate = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", output)
    counts = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded", output)
    if not (rate and counts):
        raise ValueError(f"not h2load output:\n{output}")
    latencies = sorted(int(line.split("\t")[2]) / 1000 for line in request_log.splitlines() if line)
    if len(latencies) < 2:
        raise ValueError("h2load logged fewer than two requests")
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    done, succeeded = int(counts.group(2)), int(counts.group(3))
    return LoadResult(float(rate.group(1)), cuts[49], cuts[98], done, done - succeeded)


def h2load_grpc(
    url: str,
    message: bytes,
    *,
    duration: float,
    streams: int = 1,
    headers: Sequence[str] = (),
) -> LoadResult:
    """POST one prepared gRPC request over and over to `url` (…/kv.v1.KeyValue/Get) for `duration`.

    50 HTTP/2 connections with `streams` concurrent calls each. Every call sends
    the same message: h2load cannot vary the body. `headers`: more header lines
    ("name: value"), e.g. the `authorization` metadata.
    """
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "request.bin"
        data.write_bytes(grpc_frame(message))
        request_log = Path(scratch) / "requests.tsv"
        command = [
            "h2load",
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-m{streams}",
            f"-D{duration:g}",
            "-d",
            str(data),
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
            *(word for header in headers for word in ("-H", header)),
            "--log-file",
            str(request_log),
            url,
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, check=True, timeout=duration + 30
        )
        return parse_h2load(done.stdout, request_log.read_text())
