"""What EtcdStore reports when etcd fails: not applied (unavailable) or unknown, never a guess.

A fake etcd (a gRPC server with etcd's KV service) answers as told: hangs, or
fails with one of etcd's own errors; no etcd process is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest

from kv.adapters.etcd import EtcdStore
from kv.domain import OutcomeUnknown, StorageUnavailable, ValueTooLarge, Write
from kv.etcdpb import rpc_pb2, rpc_pb2_grpc
from tests.servers import free_port

PUT = Write.put("k", "v", b'"v"')


@dataclass
class FakeEtcd(rpc_pb2_grpc.KVServicer):
    """Answers every call with `failure` (code, message) a number of times, or hangs."""

    failure: tuple[grpc.StatusCode, str] | None = None
    failures_left: int = 10**9
    hang: bool = False
    calls: list[str] = field(default_factory=list)
    metadata: list[dict[str, str]] = field(default_factory=list)

    async def _answer(self, name: str, context: grpc.aio.ServicerContext) -> None:  # type: ignore[type-arg]
        self.calls.append(name)
        received = context.invocation_metadata() or ()
        self.metadata.append({key: str(value) for key, value in received})
        if self.hang:
            await asyncio.sleep(30)
        if self.failure is not None and self.failures_left > 0:
            self.failures_left -= 1
            await context.abort(*self.failure)

    async def Range(self, request, context):  # type: ignore[no-untyped-def]
        await self._answer("Range", context)
        return rpc_pb2.RangeResponse(header=rpc_pb2.ResponseHeader(revision=7))

    async def Txn(self, request, context):  # type: ignore[no-untyped-def]
        await self._answer("Txn", context)
        put = rpc_pb2.ResponseOp(response_put=rpc_pb2.PutResponse())
        nested = rpc_pb2.TxnResponse(succeeded=False, responses=[put])
        return rpc_pb2.TxnResponse(
            header=rpc_pb2.ResponseHeader(revision=8),
            succeeded=True,
            responses=[rpc_pb2.ResponseOp(response_txn=nested)],
        )


async def serve(servicer: FakeEtcd) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    rpc_pb2_grpc.add_KVServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeEtcd, str]]:
    servicer = FakeEtcd()
    server, endpoint = await serve(servicer)
    yield servicer, endpoint
    await server.stop(grace=None)


async def test_a_member_without_a_leader_is_left_for_the_next() -> None:
    """A member cut off from the others answers "no leader" to everything: move on."""
    cut_off = FakeEtcd(failure=(grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader"))
    healthy = FakeEtcd()
    servers = [await serve(cut_off), await serve(healthy)]
    store = await opened([endpoint for _, endpoint in servers], deadline=10)
    try:
        assert (await store.write(PUT)).revision == 8
        assert await store.get("k") is None
        assert cut_off.calls == ["Txn"]
        assert healthy.calls == ["Txn", "Range"]
    finally:
        await store.close()
        for server, _ in servers:
            await server.stop(grace=None)


async def opened(endpoints: list[str], deadline: float) -> EtcdStore:
    store = EtcdStore(endpoints, timeout=deadline)
    await store.open()
    return store


async def test_the_fake_answers_a_write_and_sees_the_leader_requirement(
    fake: tuple[FakeEtcd, str],
) -> None:
    servicer, endpoint = fake
    store = await opened([endpoint], deadline=10)
    written = await store.write(PUT)
    await store.close()
    assert written.revision == 8
    assert servicer.metadata[0]["hasleader"] == "true"


async def test_no_member_reachable_is_unavailable_for_reads_writes_and_readiness() -> None:
    store = await opened([f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"], deadline=0.3)
    with pytest.raises(StorageUnavailable):
        await store.get("k")
    with pytest.raises(StorageUnavailable) as raised:
        await store.write(PUT)  # never sent: nothing can have been applied
    assert type(raised.value) is StorageUnavailable
    with pytest.raises(StorageUnavailable):
        await store.check()
    await store.close()


async def test_a_write_sent_but_not_answered_is_outcome_unknown(
    fake: tuple[FakeEtcd, str],
) -> None:
    servicer, endpoint = fake
    servicer.hang = True
    store = await opened([endpoint], deadline=0.3)
    with pytest.raises(OutcomeUnknown):
        await store.write(PUT)
    assert servicer.calls == ["Txn"]  # a write whose outcome is unknown is not sent again
    with pytest.raises(StorageUnavailable):
        await store.get("k")
    await store.close()


@pytest.mark.parametrize(
    "message",
    [
        "etcdserver: leader changed",
        "etcdserver: request timed out",
        "etcdserver: request timed out, possibly due to previous leader failure",
        "Socket closed",
    ],
)
async def test_a_write_failed_after_raft_may_have_it_is_outcome_unknown(
    fake: tuple[FakeEtcd, str], message: str
) -> None:
    servicer, endpoint = fake
    servicer.failure = (grpc.StatusCode.UNAVAILABLE, message)
    store = await opened([endpoint], deadline=10)
    with pytest.raises(OutcomeUnknown, match=message):
        await store.write(PUT)
    assert servicer.calls == ["Txn"]
    await store.close()


async def test_a_write_refused_for_want_of_a_leader_is_retried(
    fake: tuple[FakeEtcd, str],
) -> None:
    servicer, endpoint = fake
    servicer.failure = (grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader")
    servicer.failures_left = 2
    store = await opened([endpoint], deadline=10)
    written = await store.write(PUT)
    await store.close()
    assert written.revision == 8
    assert servicer.calls == ["Txn", "Txn", "Txn"]


async def test_a_write_refused_for_want_of_a_leader_until_the_end_is_unavailable(
    fake: tuple[FakeEtcd, str],
) -> None:
    servicer, endpoint = fake
    servicer.failure = (grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader")
    store = await opened([endpoint], deadline=0.3)
    with pytest.raises(StorageUnavailable) as raised:
        await store.write(PUT)
    assert type(raised.value) is StorageUnavailable
    await store.close()


async def test_a_request_over_etcds_limit_is_value_too_large(
    fake: tuple[FakeEtcd, str],
) -> None:
    servicer, endpoint = fake
    servicer.failure = (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: request is too large")
    store = await opened([endpoint], deadline=10)
    with pytest.raises(ValueTooLarge):
        await store.write(PUT)
    assert servicer.calls == ["Txn"]
    await store.close()


async def test_a_closed_store_is_unavailable() -> None:
    store = await opened([f"127.0.0.1:{free_port()}"], deadline=0.3)
    await store.close()
    with pytest.raises(StorageUnavailable):
        await store.write(PUT)
