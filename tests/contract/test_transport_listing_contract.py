"""Listing and ttl, the same over every transport, through its KVClient only.

As `test_transport_contract.py`: the real service in-process behind one
transport; a transport added to TRANSPORT_NAMES is proven by these too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from testclient.client import KVClient, KVEntry, KVPage, Rejected
from tests.inprocess import TRANSPORT_NAMES, Served, serve_in_process


@pytest.fixture(params=TRANSPORT_NAMES)
async def kv(request: pytest.FixtureRequest) -> AsyncIterator[KVClient]:
    served: Served
    async with serve_in_process(request.param) as served:
        yield served.client


def prefix() -> str:
    return f"list-{uuid.uuid4().hex[:8]}/"


async def every_page(
    kv: KVClient, under: str, limit: int, *, keys_only: bool = False
) -> list[KVPage]:
    pages = [await kv.list(under, limit=limit, keys_only=keys_only)]
    while pages[-1].next_cursor is not None:
        cursor = pages[-1].next_cursor
        pages.append(await kv.list(under, limit=limit, cursor=cursor, keys_only=keys_only))
    return pages


async def test_pages_cover_the_prefix_in_byte_order(kv: KVClient) -> None:
    under = prefix()
    keys = [under + suffix for suffix in ("b", "a", "é", "Z", "🔑", "\uff01", "a/b", "")]
    written = {key: (await kv.put(key, key)).entry for key in keys}
    await kv.put(under.rstrip("/"), "outside")
    pages = await every_page(kv, under, 3)
    listed = [entry for page in pages for entry in page.entries]
    assert [entry.key for entry in listed] == sorted(keys, key=str.encode)
    assert all(entry == written[entry.key] for entry in listed)
    assert [len(page.entries) for page in pages] == [3, 3, 2]
    assert all(page.revision >= max(written[k].revision for k in keys) for page in pages)


async def test_a_page_of_large_values_is_bounded_in_bytes(kv: KVClient) -> None:
    # Five values of 400 KB with the default 1 MiB limit: two fit in a page, whatever
    # `limit` allows, and the pages still cover every key once.
    under = prefix()
    written = {
        under + str(n): (await kv.put(under + str(n), str(n) * 400_000)).entry for n in range(5)
    }
    pages = await every_page(kv, under, 100)
    assert [len(page.entries) for page in pages] == [2, 2, 1]
    assert [entry for page in pages for entry in page.entries] == list(written.values())


async def test_a_listing_of_values_larger_than_a_message_holds(kv: KVClient) -> None:
    # 6.3 MB of values under one prefix, more than one gRPC message holds: every
    # transport pages them.
    under = prefix()
    written = [(await kv.put(under + str(n), str(n) * 700_000)).entry for n in range(9)]
    pages = await every_page(kv, under, 100)
    assert [len(page.entries) for page in pages] == [1] * 9
    assert [entry for page in pages for entry in page.entries] == written


async def test_an_empty_cursor_is_the_first_page(kv: KVClient) -> None:
    # As gRPC APIs take an empty page token (AIP-158), on every transport.
    under = prefix()
    for suffix in "abc":
        await kv.put(under + suffix, suffix)
    assert await kv.list(under, limit=2, cursor="") == await kv.list(under, limit=2)


async def test_keys_only_entries_have_no_value(kv: KVClient) -> None:
    under = prefix()
    entry = (await kv.put(under + "k", {"big": "value"}, ttl=100)).entry
    (page,) = await every_page(kv, under, 10, keys_only=True)
    assert page.entries == (KVEntry(entry.key, None, entry.revision),)


async def test_an_empty_prefix_is_one_empty_last_page(kv: KVClient) -> None:
    page = await kv.list(prefix())
    assert (page.entries, page.next_cursor) == ((), None)


@pytest.mark.parametrize("limit", [0, 1001, 2**40])
async def test_a_limit_out_of_range_is_rejected(kv: KVClient, limit: int) -> None:
    with pytest.raises(Rejected):
        await kv.list("", limit=limit)


async def test_a_cursor_of_another_prefix_or_made_up_is_rejected(kv: KVClient) -> None:
    under = prefix()
    for n in range(3):
        await kv.put(f"{under}{n}", n)
    cursor = (await kv.list(under, limit=1)).next_cursor
    assert cursor is not None
    with pytest.raises(Rejected):
        await kv.list(prefix(), cursor=cursor)
    with pytest.raises(Rejected):
        await kv.list(under, cursor="made-up")


async def test_a_ttl_is_answered_and_read_back_and_a_plain_write_clears_it(kv: KVClient) -> None:
    key = prefix() + "t"
    written = await kv.put(key, "v", ttl=100)
    assert written.entry.ttl == 100
    read = await kv.get(key)
    assert read.ttl is not None
    assert 0 < read.ttl <= 100
    created = await kv.create(prefix() + "c", "v", ttl=7)
    assert created.ttl == 7
    plain = await kv.put(key, "v")
    assert plain.entry.ttl is None
    assert plain.entry.revision > written.entry.revision
    assert (await kv.get(key)).ttl is None


@pytest.mark.parametrize("ttl", [0, -1, 31_536_001, 2**70])
async def test_a_ttl_out_of_range_is_rejected(kv: KVClient, ttl: int) -> None:
    with pytest.raises(Rejected):
        await kv.put(prefix() + "k", "v", ttl=ttl)
    with pytest.raises(Rejected):
        await kv.create(prefix() + "k", "v", ttl=ttl)
