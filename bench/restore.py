"""How long `kv restore` takes: KEYS entries into an empty kv-server, per store. One JSON line.

The snapshot file is made here (20-byte keys, values of about 60 bytes of
JSON); `kv restore FILE` runs as a user would run it, against a fresh
kv-server (KV_STORE=memory, then sqlite), and is timed from start to exit.

    python -m bench.restore [KEYS] [--stores memory,sqlite] [--concurrency N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.processes import HOST, free_port, running

RESTORE_TIMEOUT_SECONDS = 900.0


def write_snapshot(path: Path, keys: int) -> None:
    with path.open("w", encoding="utf-8") as file:
        file.write(json.dumps({"snapshot": 1, "revision": keys, "entries": keys}) + "\n")
        for n in range(keys):
            entry = {
                "key": f"bench/key-{n:010d}",
                "value": {"n": n, "text": f"value number {n:010d}"},
                "revision": n + 1,
            }
            file.write(json.dumps(entry, separators=(",", ":")) + "\n")
        file.write(json.dumps({"end": True, "entries": keys}) + "\n")


def restore_seconds(store: str, snapshot: Path, directory: Path, concurrency: int) -> float:
    port = free_port()
    env = {
        "KV_STORE": store,
        "KV_DATA_DIR": str(directory / f"data-{store}"),
        "KV_HOST": HOST,
        "KV_HTTP_PORT": str(port),
        "TRANSPORT": "http",
    }
    command = [sys.executable, "-m", "kv.server"]
    with running(f"restore-{store}", command, ports={"http": port}, env=env):
        kv = Path(sys.executable).with_name("kv")
        started = time.perf_counter()
        finished = subprocess.run(
            [str(kv), "--url", f"http://{HOST}:{port}", "restore", str(snapshot),
             "--concurrency", str(concurrency)],
            capture_output=True,
            text=True,
            timeout=RESTORE_TIMEOUT_SECONDS,
            env={**os.environ},
            check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise RuntimeError(f"kv restore failed ({finished.returncode}): {finished.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description="Time kv restore into each store, as JSON.")
    parser.add_argument("keys", nargs="?", type=int, default=100_000, help="entries to restore")
    parser.add_argument("--stores", default="memory,sqlite", help="comma list of KV_STORE names")
    parser.add_argument("--concurrency", type=int, default=16, help="kv restore --concurrency")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kv-bench-restore-") as name:
        directory = Path(name)
        snapshot = directory / "snapshot.ndjson"
        write_snapshot(snapshot, args.keys)
        result: dict[str, object] = {"keys": args.keys, "concurrency": args.concurrency}
        for store in args.stores.split(","):
            seconds = restore_seconds(store, snapshot, directory, args.concurrency)
            result[f"{store}_seconds"] = round(seconds, 1)
            result[f"{store}_entries_per_second"] = round(args.keys / seconds)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
