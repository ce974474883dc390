"""The etcd store's change feed over real clusters: etcd's compaction, a member lost under a
watcher, and watches through kv-server replicas over HTTP and gRPC.

The watch contract itself runs over etcd in tests/contract/test_store_watch.py; these tests
need a cluster of their own (compacting or killing members of the shared one would reach
other tests).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from kv.adapters.etcd import EtcdStore
from kv.domain import Compacted, KVError
from kv.etcdpb import rpc_pb2, rpc_pb2_grpc
from testclient.client import Compacted as ClientCompacted
from testclient.client import KVClient, KVEvent
from testclient.grpc_client import GrpcKVClient
from testclient.http_client import HttpKVClient
from tests.etcd.cluster import EtcdCluster
from tests.etcd.test_replicas import start_replicas
from tests.servers import KvServer
from tests.store_writes import put, take

# Generous: only a broken feed ever waits this long (an expiry takes etcd a few seconds).
EVENT_WAIT_SECONDS = 30.0


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    """A one-member cluster of this module's own, which its tests compact."""
    cluster = EtcdCluster(tmp_path_factory.mktemp("etcd-single"), size=1).start()
    yield cluster
    cluster.stop()


def compact(cluster: EtcdCluster, revision: int) -> None:
    """etcd's own compaction (what `etcdctl compact --physical` does): revisions before go."""
    with grpc.insecure_channel(cluster.endpoints[0]) as channel:
        stub = rpc_pb2_grpc.KVStub(channel)  # type: ignore[no-untyped-call]
        stub.Compact(rpc_pb2.CompactionRequest(revision=revision, physical=True), timeout=30)


@contextlib.asynccontextmanager
async def opened(
    cluster: EtcdCluster, prefix: str, deadline: float = 10.0
) -> AsyncIterator[EtcdStore]:
    store = EtcdStore(cluster.endpoints, prefix=prefix, timeout=deadline)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def test_a_watch_from_before_etcds_compaction_is_compacted_at_its_compact_revision(
    single: EtcdCluster,
) -> None:
    async with opened(single, "/compacted/") as store:
        revisions = [(await store.write(put("k", n))).revision for n in range(5)]
        compact(single, revisions[3])
        with pytest.raises(Compacted) as raised:
            await store.subscribe("", revisions[1])
        # etcd keeps every change after its compact revision (a delete at it loses its tombstone).
        assert raised.value.oldest == revisions[3] + 1
        with pytest.raises(Compacted):
            await store.subscribe("", revisions[3])
        kept = await store.subscribe("", revisions[4])
        assert [c.revision for c in await take(kept, 1, seconds=EVENT_WAIT_SECONDS)] == revisions[
            4:
        ]
        kept.close()


async def test_a_watch_goes_on_when_the_member_it_watches_through_is_killed(
    tmp_path: Path,
) -> None:
    """Every acknowledged change arrives once, in order, across the stream's re-creation."""
    cluster = EtcdCluster(tmp_path / "etcd").start()
    try:
        # pick_first: the store (its watch included) talks to the first member named.
        async with opened(cluster, "/lost/", deadline=2.0) as store:
            watcher = await store.subscribe("", None)
            acknowledged = [(await store.write(put(f"a{n}", n))).revision for n in range(5)]
            cluster.kill(cluster.members[0])
            for n in range(5):
                for _ in range(100):  # bounded: a new leader is elected within seconds
                    try:
                        acknowledged.append((await store.write(put(f"b{n}", n))).revision)
                        break
                    except KVError:  # unavailable, or unknown: an unknown one may show up too
                        await asyncio.sleep(0.1)
            seen: list[int] = []
            async with asyncio.timeout(EVENT_WAIT_SECONDS):
                while not seen or seen[-1] < acknowledged[-1]:
                    seen.append((await anext(watcher)).revision)
            assert seen == sorted(set(seen))  # in order, none repeated
            assert set(acknowledged) <= set(seen)  # none acknowledged missed
            watcher.close()
    finally:
        cluster.stop()


def client(server: KvServer, transport: str) -> KVClient:
    if transport == "http":
        return HttpKVClient(server.url)
    return GrpcKVClient(server.grpc_target)


async def events(watcher: KVClient, count: int, **start: int) -> list[KVEvent]:
    got: list[KVEvent] = []
    stream = watcher.watch("w/", **start)
    try:
        async with contextlib.aclosing(stream), asyncio.timeout(EVENT_WAIT_SECONDS):
            async for event in stream:
                got.append(event)
                if len(got) == count:
                    break
    except TimeoutError:
        pytest.fail(f"{count} events expected, got {got}")
    return got


@pytest.mark.e2e
@pytest.mark.parametrize("transport", ["http", "grpc"])
async def test_a_watcher_on_one_replica_sees_every_change_made_through_the_other(
    single: EtcdCluster, tmp_path: Path, transport: str
) -> None:
    """Puts, a delete of a key with a ttl (not an expiry), an expiry; then etcd's compaction."""
    replicas = start_replicas(tmp_path, single)
    try:
        async with (
            client(replicas[0], transport) as writer,
            client(replicas[1], transport) as reader,
        ):
            # A first watch on replica 2 starts its shared watch: every later change is in it.
            warm = (await writer.put("w/warm", 0)).entry.revision
            assert [e.revision for e in await events(reader, 1, from_revision=warm)] == [warm]
            start = (await writer.put("w/start", 0)).entry.revision
            following = asyncio.ensure_future(events(reader, 5, after_revision=start))
            first = (await writer.put("w/k", {"n": 1})).entry.revision
            leased = (await writer.put("w/t", "ttl", ttl=3600)).entry.revision
            await writer.delete("w/t")
            short = (await writer.put("w/e", "short", ttl=1)).entry.revision
            got = await following
            assert [(e.type, e.key, e.expired) for e in got] == [
                ("put", "w/k", False),
                ("put", "w/t", False),
                ("delete", "w/t", False),
                ("put", "w/e", False),
                ("delete", "w/e", True),
            ]
            assert [e.revision for e in got[:2]] == [first, leased]
            assert got[3].revision == short
            assert got[4].revision > short
            assert (got[1].value, got[1].ttl is not None) == ("ttl", True)

            # Compacted at the expiry. Replica 1 has had no watcher: its shared watch starts
            # now, so older changes come from etcd, which keeps none up to the expiry (a
            # delete at the compact revision loses its tombstone) and every one after it.
            compact(single, got[4].revision)
            for compacted in (start, got[4].revision):
                with pytest.raises(ClientCompacted):
                    await events(writer, 1, from_revision=compacted)
            after = (await writer.put("w/after", 1)).entry.revision
            resumed = await events(writer, 1, from_revision=got[4].revision + 1)
            assert [e.revision for e in resumed] == [after]
            # Replica 2's shared watch has kept every change since its first watcher.
            replayed = await events(reader, 6, after_revision=start)
            assert [e.revision for e in replayed] == [*(e.revision for e in got), after]
    finally:
        for replica in replicas:
            assert replica.process.stop() == 0, replica.process.log()
