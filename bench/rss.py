"""RSS per key of the in-memory store: run in a fresh interpreter, prints one JSON line.

Measured in-process: VmRSS from /proc/self/status before and after putting
KEYS keys (16-byte keys, 32-byte string values) through KeyValueService into
an InMemoryStore, so the figure includes the entries, the keys, the values
and the dict, and nothing of a server's buffers. `redis_per_key` measures
redis-server the same way, from outside: its VmRSS (and its own INFO memory
`used_memory`) before and after SETs of the same keys and values.

    python -m bench.rss [KEYS]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import socket
from pathlib import Path

from kv.adapters.memory import InMemoryStore
from kv.domain import KeyValueService

KEY_BYTES = 16
VALUE_BYTES = 32


def rss_bytes(pid: int | str = "self") -> int:
    """The resident set size of process `pid` (this one by default), from /proc (kB there)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def key_and_value(n: int) -> tuple[str, str]:
    """The n-th key (KEY_BYTES) and its string value (VALUE_BYTES)."""
    return f"key-{n:0{KEY_BYTES - 4}d}", f"value-{n:0{VALUE_BYTES - 6}d}"


async def fill(service: KeyValueService, keys: int) -> None:
    for n in range(keys):
        # Built per key, as a server would get them from requests.
        await service.put(*key_and_value(n))


async def measure(keys: int) -> dict[str, float]:
    service = KeyValueService(InMemoryStore())
    await service.start()
    gc.collect()
    before = rss_bytes()
    await fill(service, keys)
    gc.collect()
    after = rss_bytes()
    await service.stop()
    return {
        "keys": keys,
        "rss_before_bytes": before,
        "rss_after_bytes": after,
        "bytes_per_key": (after - before) / keys,
    }


def redis_per_key(port: int, pid: int, keys: int) -> dict[str, float]:
    """Bytes per key redis-server at `port` (process `pid`) grows by: VmRSS and used_memory."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        reader = connection.makefile("rb")

        def used_memory() -> int:
            connection.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")
            size = int(reader.readline()[1:])
            info = reader.read(size + 2).decode()
            return int(info.split("used_memory:", 1)[1].split()[0])

        before, used_before = rss_bytes(pid), used_memory()
        for start in range(0, keys, 1000):
            batch = range(start, min(start + 1000, keys))
            connection.sendall(b"".join(_set(*key_and_value(n)) for n in batch))
            for _ in batch:
                if reader.readline() != b"+OK\r\n":
                    raise RuntimeError("redis-server refused a SET")
        after, used_after = rss_bytes(pid), used_memory()
    return {
        "keys": keys,
        "bytes_per_key": (after - before) / keys,
        "used_memory_per_key": (used_after - used_before) / keys,
    }


def _set(key: str, value: str) -> bytes:
    return b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(key),
        key.encode(),
        len(value),
        value.encode(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="RSS per key of the in-memory store, as JSON.")
    parser.add_argument("keys", nargs="?", type=int, default=1_000_000, help="keys to load")
    print(json.dumps(asyncio.run(measure(parser.parse_args().keys))))


if __name__ == "__main__":
    main()
