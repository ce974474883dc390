"""An etcd snapshot's pages fit the client's message limit, whatever the values' sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kv.adapters.etcd import snapshot as etcd_snapshot
from tests.etcd.cluster import etcd_store
from tests.store_writes import put

BIG_VALUE = "v" * 1_200_000
BIG_ENTRIES = 20  # 24 MB: more than one answer may carry (16 MiB)


async def test_pages_of_large_values_are_asked_for_in_fewer_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first Range asks for 16 keys of 1.2 MB: over the limit, so it asks again for fewer."""
    monkeypatch.setattr(etcd_snapshot, "FIRST_BATCH", 16)
    store = etcd_store(tmp_path)
    await store.open()
    try:
        for n in range(BIG_ENTRIES):
            await store.write(put(f"big/{n:02}", f"{n}{BIG_VALUE}"))
        snapshot = await store.snapshot()
        try:
            assert await snapshot.count() == BIG_ENTRIES
            keys: list[str] = []
            after = None
            while True:
                listing = await snapshot.page(after, 1000)
                keys += [entry.key for entry in listing.entries]
                assert all(entry.value == f"{entry.key[4:].lstrip('0') or '0'}{BIG_VALUE}"
                           for entry in listing.entries)  # fmt: skip
                if not listing.more:
                    break
                after = listing.entries[-1].key
            assert keys == [f"big/{n:02}" for n in range(BIG_ENTRIES)]
        finally:
            await snapshot.close()
    finally:
        await store.close()
