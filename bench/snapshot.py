"""What a snapshot of a large store costs the server: RSS growth and time, on a real kv-server.

A sqlite store of KEYS entries (20-byte keys, values of about 60 bytes of
JSON) is written straight into its database file, kv-server (KV_STORE=sqlite)
loads it, and `GET /v1/snapshot` is read to its end line. The server's peak
RSS (VmHWM, reset first through /proc/PID/clear_refs) is compared with its
RSS before the snapshot. Prints one JSON line.

    python -m bench.snapshot [KEYS]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.processes import HOST, free_port
from kv.adapters.sqlite.database import open_database

START_TIMEOUT_SECONDS = 600.0
STOP_TIMEOUT_SECONDS = 60.0
READ_BYTES = 256 * 1024


def write_store(data_dir: Path, keys: int) -> None:
    """A sqlite store of `keys` entries, as kv-server would have written it."""
    loaded = open_database(data_dir, integrity_check=False, connection_class=sqlite3.Connection)
    connection = loaded.connection
    rows = (
        (f"bench/key-{n:010d}", json.dumps({"n": n, "text": f"value number {n:010d}"}), n + 1)
        for n in range(keys)
    )
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO entries (key, value, revision, expires_at) VALUES (?, ?, ?, NULL)", rows
    )
    connection.execute("UPDATE store SET revision = ? WHERE id = 1", (keys,))
    connection.execute("COMMIT")
    connection.close()


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kv-server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("kv-server did not get ready in time")


def read_snapshot(url: str) -> tuple[int, int, bytes]:
    """(entries announced, lines read, the last line) of one snapshot, read to its end."""
    lines = 0
    header = b""
    tail = b""
    with urllib.request.urlopen(url + "/v1/snapshot", timeout=600) as answer:
        while chunk := answer.read(READ_BYTES):
            if not header:
                header = chunk.split(b"\n", 1)[0]
            lines += chunk.count(b"\n")
            tail = (tail + chunk)[-200:]
    return json.loads(header)["entries"], lines, tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]


def measure(keys: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="kv-bench-snapshot-") as directory:
        data_dir = Path(directory) / "data"
        write_store(data_dir, keys)
        port = free_port()
        env = {
            **os.environ,
            "KV_STORE": "sqlite",
            "KV_DATA_DIR": str(data_dir),
            "KV_HOST": HOST,
            "KV_HTTP_PORT": str(port),
            "TRANSPORT": "http",
        }
        log = Path(directory) / "kv-server.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "kv.server"], env=env, stdout=output, stderr=output
            )
        try:
            url = f"http://{HOST}:{port}"
            wait_ready(url, process)
            time.sleep(1.0)  # let start-up's garbage go
            before_kb = memory_kb(process.pid, "VmRSS")
            Path(f"/proc/{process.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
            started = time.perf_counter()
            announced, lines, last = read_snapshot(url)
            seconds = time.perf_counter() - started
            peak_kb = memory_kb(process.pid, "VmHWM")
        finally:
            process.terminate()
            process.wait(STOP_TIMEOUT_SECONDS)
        assert announced == keys, (announced, keys)
        assert lines == keys + 2, (lines, keys)
        assert json.loads(last) == {"end": True, "entries": keys}, last
        return {
            "keys": keys,
            "rss_before_mb": round(before_kb / 1024, 1),
            "rss_peak_mb": round(peak_kb / 1024, 1),
            "rss_growth_mb": round((peak_kb - before_kb) / 1024, 1),
            "seconds": round(seconds, 1),
            "entries_per_second": round(keys / seconds),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description="RSS growth of a kv-server during a snapshot.")
    parser.add_argument("keys", nargs="?", type=int, default=1_000_000, help="keys in the store")
    print(json.dumps(measure(parser.parse_args().keys)))


if __name__ == "__main__":
    main()
