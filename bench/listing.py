"""Listing cost against store size: `python -m bench.listing` (`make bench-listing`).

Fills a store with KEYS keys (1,000,000 by default) and lists it through
`KeyValueService.list` in pages of PAGE keys, in this process (no
transport: what is measured is the domain and the store's ordered index):

- pages/s over a walk of every page, cursor after cursor;
- the cost of the first page against the last page (the page that ends at
  the last key, reached with its cursor), each timed over REPEATS reads
  alternating first and last so that noise hits both alike; the median is
  reported and the ratio last/first must be at most 2 (each page costs
  O(log n + page), never a scan).

Both local engines: `memory`, and `sqlite` (its in-memory key directory; the
file is written straight with sqlite3 in one transaction, then opened by
SqliteStore as a server would at start-up). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from kv.adapters.memory import InMemoryStore
from kv.adapters.sqlite import DATABASE_FILE, SqliteStore
from kv.adapters.sqlite.database import open_database
from kv.domain import KeyValueService, Transaction, Write
from kv.domain.cursors import make_cursor
from kv.domain.model import encode_value

KEYS = 1_000_000
PAGE = 100
REPEATS = 200
MAX_RATIO = 2.0
# A full walk of 1,000,000 keys is 10,000 pages; stop earlier if a store is slow.
WALK_SECONDS_LIMIT = 120.0


def key_of(number: int) -> str:
    return f"bench/{number:09d}"


def value_of(number: int) -> str:
    return f"value-{number:026d}"  # a 32-byte string value, as the other benches use


async def memory_service(keys: int, directory: Path) -> KeyValueService:
    store = InMemoryStore()
    for number in range(keys):
        value = value_of(number)
        store.apply(Transaction.single(Write.put(key_of(number), value, encode_value(value))))
    return KeyValueService(store)


async def sqlite_service(keys: int, directory: Path) -> KeyValueService:
    # Create the schema as the store does, then fill it in one transaction.
    loaded = open_database(directory, integrity_check=False, connection_class=sqlite3.Connection)
    loaded.connection.close()
    connection = sqlite3.connect(directory / DATABASE_FILE)
    with connection:
        connection.executemany(
            "INSERT INTO entries (key, value, revision) VALUES (?, ?, ?)",
            ((key_of(n), encode_value(value_of(n)).decode(), n + 1) for n in range(keys)),
        )
        connection.execute("UPDATE store SET revision = ? WHERE id = 1", (keys,))
    connection.close()
    service = KeyValueService(SqliteStore(directory))
    await service.start()
    return service


ENGINES: dict[str, Callable[[int, Path], Awaitable[KeyValueService]]] = {
    "memory": memory_service,
    "sqlite": sqlite_service,
}


async def time_page(service: KeyValueService, cursor: str | None) -> float:
    started = time.perf_counter()
    page = await service.list("bench/", limit=PAGE, cursor=cursor)
    elapsed = time.perf_counter() - started
    assert len(page.entries) == PAGE
    return elapsed


async def measure(engine: str, keys: int, repeats: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="kv-bench-listing-") as directory:
        started = time.perf_counter()
        service = await ENGINES[engine](keys, Path(directory))
        fill_seconds = time.perf_counter() - started

        # The walk: every page, cursor after cursor; the cursor before the last page kept.
        pages = 0
        cursor: str | None = None
        before_last: str | None = None
        started = time.perf_counter()
        while time.perf_counter() - started < WALK_SECONDS_LIMIT:
            page = await service.list("bench/", limit=PAGE, cursor=cursor)
            pages += 1
            if page.next_cursor is None:
                break
            before_last, cursor = cursor, page.next_cursor
        walk_seconds = time.perf_counter() - started
        if page.next_cursor is not None:  # stopped by the time limit: make the last cursor
            before_last = make_cursor("bench/", key_of(keys - PAGE - 1))

        first: list[float] = []
        last: list[float] = []
        for _ in range(repeats):
            first.append(await time_page(service, None))
            last.append(await time_page(service, before_last))
        await service.stop()
    return {
        "fill_seconds": fill_seconds,
        "pages": pages,
        "pages_per_second": pages / walk_seconds,
        "first_us": statistics.median(first) * 1e6,
        "last_us": statistics.median(last) * 1e6,
    }


def table(results: dict[str, dict[str, float]], keys: int) -> str:
    lines = [
        "| store | keys | pages walked | pages/s (walk) | first page | last page "
        "| last / first | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for engine, figures in results.items():
        ratio = figures["last_us"] / figures["first_us"]
        met = "yes" if ratio <= MAX_RATIO else "**no**"
        lines.append(
            f"| {engine} | {keys:,} | {figures['pages']:,.0f} | {figures['pages_per_second']:,.0f} "
            f"| {figures['first_us']:,.0f} µs | {figures['last_us']:,.0f} µs | {ratio:.2f}x "
            f"| <= {MAX_RATIO:g}x: {met} |"
        )
    return "\n".join(lines)


async def run(engines: list[str], keys: int, repeats: int) -> dict[str, dict[str, float]]:
    return {engine: await measure(engine, keys, repeats) for engine in engines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=KEYS, help="keys in the store")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed reads of each page")
    parser.add_argument(
        "--store", choices=sorted(ENGINES), action="append", help="engines (default: all)"
    )
    arguments = parser.parse_args()
    if arguments.keys < 2 * PAGE:
        parser.error(f"--keys must be at least {2 * PAGE}")
    if arguments.repeats < 1:
        parser.error("--repeats must be at least 1")
    engines = arguments.store or sorted(ENGINES)
    results = asyncio.run(run(engines, arguments.keys, arguments.repeats))
    print(table(results, arguments.keys))
    if any(r["last_us"] / r["first_us"] > MAX_RATIO for r in results.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
