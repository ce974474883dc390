"""EtcdStore on a real etcd: what the contract suite does not say (layout, revisions, sizes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest

from kv.adapters.etcd import EtcdStore
from kv.adapters.etcd.txn import SINGLE_TRIP_VALUE_BYTES
from kv.domain import (
    Condition,
    Decision,
    KeyValueService,
    PreconditionFailed,
    ValueTooLarge,
    Write,
)
from kv.domain.model import DEFAULT_MAX_VALUE_BYTES, encode_value
from kv.etcdpb import rpc_pb2, rpc_pb2_grpc
from tests.etcd.cluster import etcd_store, shared_cluster


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EtcdStore]:
    opened = etcd_store(tmp_path)
    await opened.open()
    yield opened
    await opened.close()


async def raw_range(key: bytes) -> rpc_pb2.RangeResponse:
    """The key as etcd itself holds it, read without kv's adapter."""
    async with grpc.aio.insecure_channel(shared_cluster().endpoints[0]) as channel:
        stub = rpc_pb2_grpc.KVStub(channel)  # type: ignore[no-untyped-call]
        response: rpc_pb2.RangeResponse = await stub.Range(
            rpc_pb2.RangeRequest(key=key), timeout=30
        )
        return response


async def test_an_entry_is_its_compact_json_under_the_prefix_at_etcds_revision(
    tmp_path: Path,
) -> None:
    store = EtcdStore(shared_cluster().endpoints, prefix=f"/kv-layout-{tmp_path.name}/")
    await store.open()
    written = await store.write(Write.put("a/b c", {"x": [1, "é"]}, encode_value({"x": [1, "é"]})))
    raw = await raw_range(f"/kv-layout-{tmp_path.name}/a/b c".encode())
    await store.close()
    assert raw.kvs[0].value == '{"x":[1,"é"]}'.encode()
    assert raw.kvs[0].mod_revision == written.revision
    # The store's revision is etcd's own: the write was the last change of the cluster so far
    # or an earlier one, never a counter of kv's.
    assert written.revision <= raw.header.revision


@pytest.mark.parametrize(
    "size",
    [SINGLE_TRIP_VALUE_BYTES - 2, SINGLE_TRIP_VALUE_BYTES + 1, DEFAULT_MAX_VALUE_BYTES],
    ids=["one-trip", "two-step", "limit"],
)
async def test_values_up_to_the_limit_are_written_and_kept_by_a_default_etcd(
    store: EtcdStore, size: int
) -> None:
    """The shared cluster runs with etcd's default --max-request-bytes (1.5 MiB)."""
    service = KeyValueService(store)
    value = "v" * (size - 2)  # its compact JSON has the quotes: `size` bytes
    assert len(encode_value(value)) == size
    first = await service.put("big", value)
    assert first.created
    assert await service.get("big") == first.entry
    again = await service.put("big", value)
    assert again.entry == first.entry  # the same value keeps its revision
    other = "w" * (size - 2)
    with pytest.raises(PreconditionFailed):
        await service.put("big", other, Condition.at_revision(first.entry.revision + 10**6))
    replaced = await service.put("big", other, Condition.at_revision(first.entry.revision))
    assert replaced.entry.revision > first.entry.revision
    assert not replaced.created
    assert (await service.get("big")).value == other
    assert await service.delete("big") == replaced.entry


async def test_a_put_of_the_stored_value_reads_back_the_stored_revision(store: EtcdStore) -> None:
    first = await store.write(Write.put("k", [1, 2], b"[1,2]"))
    again = await store.write(Write.put("k", [1, 2], b"[1,2]", Condition.exists()))
    assert again.decision is Decision.UNCHANGED
    assert again.entry == first.entry
    assert again.revision == first.revision


async def test_an_entry_with_a_ttl_is_on_an_etcd_lease_and_keeps_its_expiry(
    tmp_path: Path,
) -> None:
    prefix = f"/kv-lease-{tmp_path.name}/"
    store = EtcdStore(shared_cluster().endpoints, prefix=prefix, timeout=10)
    await store.open()
    written = await store.write(Write.put("t", "v", b'"v"', ttl=600))
    plain = await store.write(Write.put("p", "v", b'"v"'))
    await store.close()
    timed, untimed = await raw_range(f"{prefix}t".encode()), await raw_range(f"{prefix}p".encode())
    assert timed.kvs[0].lease != 0  # etcd removes it when the lease expires
    assert written.entry is not None
    assert timed.kvs[0].value == b'\x00expires_at=%r\n"v"' % written.entry.expires_at
    assert (untimed.kvs[0].lease, untimed.kvs[0].value) == (0, b'"v"')
    assert plain.entry is not None
    assert plain.entry.expires_at is None


async def test_a_transaction_too_large_for_etcd_is_refused_before_it_is_sent(
    store: EtcdStore,
) -> None:
    """Over etcd's request limit (1.5 MiB by default) as a whole, though each value fits:
    ValueTooLarge (413) from the adapter's own measure, not etcd's refusal; nothing written."""
    service = KeyValueService(store, max_value_bytes=4 * DEFAULT_MAX_VALUE_BYTES)
    value = "x" * (DEFAULT_MAX_VALUE_BYTES - 100)
    with pytest.raises(ValueTooLarge, match="etcd accepts"):
        await service.txn(
            {
                "success": [
                    {"op": "put", "key": "big/a", "value": value},
                    {"op": "put", "key": "big/b", "value": value},
                ]
            }
        )
    assert await store.get("big/a") is None
    assert await store.get("big/b") is None


class CountedCalls:
    """Counts the calls an EtcdStore's client makes, by name, and passes them on."""

    NAMES = ("range", "range_within_limit", "txn", "read_txn", "grant", "revoke")

    def __init__(self, store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        client = store._client
        for name in self.NAMES:
            monkeypatch.setattr(client, name, self._counted(name, getattr(client, name)))

    def _counted(self, name: str, call: Callable[..., Awaitable[object]]) -> object:
        async def counted(*args: object) -> object:
            self.calls.append(name)
            return await call(*args)

        return counted

    def taken(self) -> list[str]:
        taken, self.calls = self.calls, []
        return taken


async def test_each_write_to_a_key_without_expiry_is_one_etcd_txn(
    store: EtcdStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = CountedCalls(store, monkeypatch)
    created = await store.write(Write.create("k", 1, b"1"))
    assert counted.taken() == ["txn"]
    replaced = await store.write(Write.put("k", 2, b"2"))
    assert counted.taken() == ["txn"]
    assert (replaced.decision, replaced.previous) == (Decision.STORE, created.entry)
    same = await store.write(Write.put("k", 2, b"2", Condition.at_revision(replaced.revision)))
    assert counted.taken() == ["txn"]
    assert (same.decision, same.entry) == (Decision.UNCHANGED, replaced.entry)
    with pytest.raises(PreconditionFailed):
        await store.write(Write.put("k", 3, b"3", Condition.at_revision(created.revision)))
    assert counted.taken() == ["txn"]
    deleted = await store.write(Write.delete("k"))
    assert counted.taken() == ["txn"]
    assert deleted.previous == replaced.entry
    fresh = await store.write(Write.put("fresh", 4, b"4"))
    assert counted.taken() == ["txn"]
    assert (fresh.decision, fresh.previous) == (Decision.STORE, None)
