"""KeyValueService.list and ttl: validation, cursors and ttl_left, over the in-memory store."""

from __future__ import annotations

import base64

import pytest

from kv.adapters.memory import InMemoryStore
from kv.domain import InvalidRequest, KeyNotFound, KeyValueService
from kv.domain.changes import Change
from kv.domain.cursors import make_cursor
from tests.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def service(clock: FakeClock) -> KeyValueService:
    svc = KeyValueService(InMemoryStore(clock=clock), clock=clock)
    await svc.start()
    return svc


async def test_pages_follow_cursors_to_the_end(service: KeyValueService) -> None:
    for i in range(25):
        await service.put(f"k/{i:02}", i)
    await service.put("other", 1)
    keys: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await service.list("k/", limit=10, cursor=cursor)
        pages += 1
        keys += [entry.key for entry in page.entries]
        assert page.revision == 26
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert keys == [f"k/{i:02}" for i in range(25)]
    assert pages == 3


async def test_a_full_last_page_has_no_next_cursor(service: KeyValueService) -> None:
    for i in range(4):
        await service.put(f"k{i}", i)
    first = await service.list(limit=2)
    assert first.next_cursor is not None
    last = await service.list(limit=2, cursor=first.next_cursor)
    assert [e.key for e in last.entries] == ["k2", "k3"]
    assert last.next_cursor is None


async def test_keys_only_leaves_values_out(service: KeyValueService) -> None:
    await service.put("k", {"big": "value"})
    [entry] = (await service.list(keys_only=True)).entries
    assert (entry.key, entry.value, entry.revision) == ("k", None, 1)


@pytest.mark.parametrize("limit", [0, -1, 1001, True, 1.5, "10", None])
async def test_a_limit_outside_1_to_1000_is_refused(
    service: KeyValueService, limit: object
) -> None:
    with pytest.raises(InvalidRequest):
        await service.list(limit=limit)  # type: ignore[arg-type]


async def test_limits_at_the_bounds_are_accepted(service: KeyValueService) -> None:
    await service.list(limit=1)
    await service.list(limit=1000)


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        "AQ",  # too short
        base64.urlsafe_b64encode(b"\x02" + b"\x00" * 8 + b"k").decode().rstrip("="),  # version
        make_cursor("k", "k1") + "=",  # padded: not as the service writes it
        make_cursor("", "k1")[:-1] + "*",
        "é" * 10,
        "A" * 10_000,
    ],
)
async def test_a_malformed_cursor_is_refused(service: KeyValueService, cursor: str) -> None:
    with pytest.raises(InvalidRequest):
        await service.list(cursor=cursor)


async def test_a_cursor_of_another_prefix_is_refused(service: KeyValueService) -> None:
    for key in ["a1", "a2", "b1"]:
        await service.put(key, 1)
    page = await service.list("a", limit=1)
    assert page.next_cursor is not None
    with pytest.raises(InvalidRequest, match="another prefix"):
        await service.list("b", cursor=page.next_cursor)
    with pytest.raises(InvalidRequest):
        await service.list("", cursor=page.next_cursor)


async def test_a_cursor_naming_a_key_outside_its_prefix_is_refused(
    service: KeyValueService,
) -> None:
    raw = base64.urlsafe_b64decode(make_cursor("a", "a1") + "==")
    forged = base64.urlsafe_b64encode(raw[:-2] + b"b1").decode().rstrip("=")
    with pytest.raises(InvalidRequest):
        await service.list("a", cursor=forged)


@pytest.mark.parametrize("prefix", ["x" * 1025, "\ud800"])
async def test_a_bad_prefix_is_refused(service: KeyValueService, prefix: str) -> None:
    with pytest.raises(InvalidRequest):
        await service.list(prefix)


@pytest.mark.parametrize("ttl", [0, -1, 31_536_001, True, False, 1.5, "5", float("nan")])
async def test_a_ttl_that_is_not_a_whole_number_in_range_is_refused(
    service: KeyValueService, ttl: object
) -> None:
    with pytest.raises(InvalidRequest):
        await service.put("k", 1, ttl=ttl)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest):
        await service.create("k", 1, ttl=ttl)  # type: ignore[arg-type]
    with pytest.raises(KeyNotFound):
        await service.get("k")


async def test_ttls_at_the_bounds_and_whole_floats_are_accepted(service: KeyValueService) -> None:
    assert (await service.put("a", 1, ttl=1)).entry.expires_at is not None
    assert (await service.create("b", 1, ttl=31_536_000)).expires_at is not None
    assert (await service.put("c", 1, ttl=5.0)).entry.expires_at is not None  # type: ignore[arg-type]


async def test_ttl_left_counts_down_rounded_up(service: KeyValueService, clock: FakeClock) -> None:
    entry = (await service.put("k", 1, ttl=10)).entry
    assert service.ttl_left(entry) == 10
    await clock.advance(0.5)
    assert service.ttl_left(entry) == 10
    await clock.advance(8.6)
    assert service.ttl_left(entry) == 1
    await clock.advance(5)  # answered after it expired (a slow answer, a replay): still a ttl
    assert service.ttl_left(entry) == 1
    plain = (await service.put("p", 1)).entry
    assert service.ttl_left(plain) is None


async def test_an_event_carries_the_seconds_left_only_while_its_entry_lives(
    service: KeyValueService, clock: FakeClock
) -> None:
    entry = (await service.put("k", 1, ttl=10)).entry
    change = Change.put(entry, b"1")
    assert service.event_ttl(change) == 10
    await clock.advance(9.5)
    assert service.event_ttl(change) == 1
    await clock.advance(0.5)  # expired: not "0 seconds left"
    assert service.event_ttl(change) is None
    assert service.event_ttl(Change.put((await service.put("p", 1)).entry, b"1")) is None
    assert service.event_ttl(Change.delete("k", 9, expired=True)) is None


async def test_an_expired_entry_is_gone_for_every_operation(
    service: KeyValueService, clock: FakeClock
) -> None:
    await service.put("k", 1, ttl=1)
    await clock.advance(1)
    with pytest.raises(KeyNotFound):
        await service.get("k")
    with pytest.raises(KeyNotFound):
        await service.delete("k")
    assert (await service.list()).entries == ()
    assert (await service.put("k", 1)).created
