"""RSS per key of the in-memory store: run in a fresh interpreter, prints one JSON line.

Measured in-process: VmRSS from /proc/self/status before and after putting
KEYS keys (16-byte keys, 32-byte string values) through KeyValueService into
an InMemoryStore, so the figure includes the entries, the keys, the values
and the dict, and nothing of a server's buffers.

    python -m bench.rss [KEYS]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
from pathlib import Path

from kv.adapters.memory import InMemoryStore
from kv.domain import KeyValueService

KEY_BYTES = 16
VALUE_BYTES = 32


def rss_bytes() -> int:
    """This process's resident set size, from /proc/self/status (kB there)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def fill(service: KeyValueService, keys: int) -> None:
    for n in range(keys):
        # Built per key, as a server would get them from requests.
        key = f"key-{n:0{KEY_BYTES - 4}d}"
        value = f"value-{n:0{VALUE_BYTES - 6}d}"
        await service.put(key, value)


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


def main() -> None:
    parser = argparse.ArgumentParser(description="RSS per key of the in-memory store, as JSON.")
    parser.add_argument("keys", nargs="?", type=int, default=1_000_000, help="keys to load")
    print(json.dumps(asyncio.run(measure(parser.parse_args().keys))))


if __name__ == "__main__":
    main()
