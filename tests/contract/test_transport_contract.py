"""The transport contract: the same tests over every transport, through its KVClient.

Each test runs the real service in-process behind one transport (see
`tests/inprocess.py`) and talks to it only through the `KVClient` for that
transport, so a scenario cannot tell HTTP from gRPC. Proving a new transport
is registering it (`TRANSPORTS` on the server side, `CLIENTS` on the client side).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kv.domain.model import DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES
from testclient.client import (
    AlreadyExists,
    KVClient,
    NotFound,
    PreconditionFailed,
    Rejected,
    Unavailable,
)
from testclient.config import CLIENTS, ClientSettings, connect
from tests.fakes import FakeDurableStore
from tests.inprocess import TRANSPORT_NAMES, Served, serve_in_process
from tests.servers import free_port


@pytest.fixture(params=TRANSPORT_NAMES)
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    async with serve_in_process(request.param) as served:
        yield served


@pytest.fixture
def kv(served: Served) -> KVClient:
    return served.client


def unique(prefix: str = "k") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def as_json(value: Any) -> str:
    """Exact JSON text: tells 1 from 1.0 and True from 1, which == does not."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


async def test_put_creates_then_replaces(kv: KVClient) -> None:
    key = unique()
    first = await kv.put(key, "one")
    assert first.created
    assert (first.entry.key, first.entry.value) == (key, "one")
    second = await kv.put(key, "two")
    assert not second.created
    assert second.entry.value == "two"
    assert second.entry.revision > first.entry.revision
    assert await kv.get(key) == second.entry


async def test_put_of_the_stored_value_keeps_the_revision(kv: KVClient) -> None:
    key = unique()
    first = await kv.put(key, {"a": [1, 2]})
    again = await kv.put(key, {"a": [1, 2]})
    assert not again.created
    assert again.entry == first.entry


async def test_revisions_increase_across_keys(kv: KVClient) -> None:
    revisions = [(await kv.put(unique(), n)).entry.revision for n in range(5)]
    assert revisions == sorted(revisions)
    assert len(set(revisions)) == 5


async def test_create_only_once(kv: KVClient) -> None:
    key = unique()
    entry = await kv.create(key, [1])
    assert (entry.key, entry.value) == (key, [1])
    with pytest.raises(AlreadyExists):
        await kv.create(key, [2])
    assert (await kv.get(key)).value == [1]


async def test_get_missing_key(kv: KVClient) -> None:
    with pytest.raises(NotFound):
        await kv.get(unique())


async def test_delete_returns_the_entry_and_removes_it(kv: KVClient) -> None:
    key = unique()
    written = await kv.put(key, "gone soon")
    assert await kv.delete(key) == written.entry
    with pytest.raises(NotFound):
        await kv.get(key)
    with pytest.raises(NotFound):
        await kv.delete(key)


async def test_put_at_expected_revision(kv: KVClient) -> None:
    key = unique()
    first = await kv.put(key, 1)
    with pytest.raises(PreconditionFailed):
        await kv.put(key, 2, expected_revision=first.entry.revision + 100)
    second = await kv.put(key, 2, expected_revision=first.entry.revision)
    assert second.entry.value == 2
    with pytest.raises(PreconditionFailed):
        await kv.put(key, 3, expected_revision=first.entry.revision)
    assert (await kv.get(key)).value == 2


async def test_put_at_a_revision_of_a_missing_key_fails(kv: KVClient) -> None:
    with pytest.raises(PreconditionFailed):
        await kv.put(unique(), 1, expected_revision=1)


async def test_delete_at_expected_revision(kv: KVClient) -> None:
    key = unique()
    written = await kv.put(key, "x")
    with pytest.raises(PreconditionFailed):
        await kv.delete(key, expected_revision=written.entry.revision + 1)
    assert (await kv.delete(key, expected_revision=written.entry.revision)) == written.entry


async def test_negative_expected_revision_is_never_applied(kv: KVClient) -> None:
    # Refused as no revision where the protocol carries a number (gRPC, RESP); over
    # HTTP `If-Match: "-1"` is an entity tag no entry has (tags compare as strings).
    key = unique()
    written = (await kv.put(key, "x")).entry
    with pytest.raises((Rejected, PreconditionFailed)):
        await kv.put(key, "y", expected_revision=-1)
    with pytest.raises((Rejected, PreconditionFailed)):
        await kv.delete(key, expected_revision=-1)
    assert await kv.get(key) == written


@pytest.mark.parametrize(
    "key",
    [
        "a/b/c",
        "/leading/and/trailing/",
        "ключ/ü/🙂",
        "spaces and %2F and ?#&=+",
        "x" * MAX_KEY_BYTES,
        "é" * (MAX_KEY_BYTES // 2),
    ],
    ids=["slashes", "edge-slashes", "unicode", "url-specials", "1024-ascii", "1024-bytes-utf8"],
)
async def test_any_key_up_to_the_limit(kv: KVClient, key: str) -> None:
    written = await kv.put(key, "v")
    assert written.entry.key == key
    assert (await kv.get(key)).key == key
    assert (await kv.delete(key)).key == key


@pytest.mark.parametrize("key", ["", "x" * (MAX_KEY_BYTES + 1), "é" * (MAX_KEY_BYTES // 2 + 1)])
async def test_bad_keys_are_rejected(kv: KVClient, key: str) -> None:
    with pytest.raises(Rejected):
        await kv.put(key, "v")
    with pytest.raises(Rejected):
        await kv.get(key)


@pytest.mark.parametrize(
    "value",
    [
        "text",
        "",
        "üñí©ødé \u2028 \x00 🙂",
        0,
        -7,
        2**53,
        3.25,
        -1.5e-7,
        1e300,
        True,
        False,
        None,
        {},
        [],
        {"nested": {"list": [1, "two", 3.5, None, True, {"deep": []}]}, "n": -1},
        [[], {}, [[]], ""],
    ],
    ids=repr,
)
async def test_every_json_value_round_trips_exactly(kv: KVClient, value: Any) -> None:
    key = unique()
    written = await kv.put(key, value)
    assert as_json(written.entry.value) == as_json(value)
    assert as_json((await kv.get(key)).value) == as_json(value)
    assert as_json((await kv.delete(key)).value) == as_json(value)


def string_of_json_size(size: int) -> str:
    """A string whose compact JSON (with its quotes) is `size` bytes."""
    return "x" * (size - 2)


async def test_value_at_the_size_limit_is_accepted(kv: KVClient) -> None:
    key = unique()
    value = string_of_json_size(DEFAULT_MAX_VALUE_BYTES)
    assert (await kv.put(key, value)).entry.value == value
    assert (await kv.get(key)).value == value


@pytest.mark.slow  # a 1 MiB value of half a million items, parsed on both sides
async def test_worst_case_encoding_at_the_size_limit_is_accepted(kv: KVClient) -> None:
    # "[0,0,...]" takes 2 bytes per item as compact JSON, more as a spaced
    # JSON body and 11 as protobuf: every value within the limit must pass.
    value = [0] * ((DEFAULT_MAX_VALUE_BYTES - 1) // 2)
    written = await kv.put(unique(), value)
    assert len(written.entry.value) == len(value)


async def test_value_over_the_size_limit_is_rejected(kv: KVClient) -> None:
    key = unique()
    with pytest.raises(Rejected):
        await kv.put(key, string_of_json_size(DEFAULT_MAX_VALUE_BYTES + 1))
    with pytest.raises(Rejected):
        await kv.create(key, string_of_json_size(DEFAULT_MAX_VALUE_BYTES + 1))
    with pytest.raises(NotFound):
        await kv.get(key)


async def test_far_larger_value_is_rejected(kv: KVClient) -> None:
    with pytest.raises(Rejected):
        await kv.put(unique(), string_of_json_size(8 * DEFAULT_MAX_VALUE_BYTES))


@pytest.mark.parametrize("transport", TRANSPORT_NAMES)
async def test_storage_down_is_unavailable(transport: str) -> None:
    store = FakeDurableStore()
    async with serve_in_process(transport, store) as served:
        store.broken = True
        with pytest.raises(Unavailable):
            await served.client.put(unique(), "x")


@pytest.mark.parametrize("transport", TRANSPORT_NAMES)
async def test_no_server_is_unavailable(transport: str) -> None:
    port = free_port()
    settings = ClientSettings(
        addresses={transport: CLIENTS[transport].address_of("127.0.0.1", port)}, timeout=5.0
    )
    async with connect(settings, transport) as client:
        with pytest.raises(Unavailable):
            await client.get("k")
