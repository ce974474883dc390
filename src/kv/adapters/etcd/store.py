"""EtcdStore: entries in an etcd cluster, shared by any number of kv-server replicas.

etcd is the store: its revision is the store's revision, its transactions
decide each write atomically (kv.adapters.etcd.txn), and its reads are
linearizable, so a write acknowledged by one replica is seen by every other at
once. The replicas keep no state of their own. See docs/etcd.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from kv.adapters.etcd.client import EtcdClient
from kv.adapters.etcd.txn import (
    SINGLE_TRIP_VALUE_BYTES,
    Keyspace,
    outcome,
    request,
    swap_request,
)
from kv.domain import Decision, Entry, StorageUnavailable, Write, WriteKind, Written
from kv.etcdpb import rpc_pb2

# A large PUT retries its read-then-swap while other writers keep changing the key; every
# retry means another write won, and this many in a row is reported rather than looped on.
MAX_SWAP_ATTEMPTS = 20


class EtcdStore:
    """A `Store` over etcd's v3 API: one round trip per operation (two for a large PUT)."""

    def __init__(self, endpoints: Sequence[str], *, prefix: str = "/kv/", timeout: float = 1.0):
        self._client = EtcdClient(endpoints, timeout=timeout)
        self._keys = Keyspace(prefix)

    async def open(self) -> None:
        """Make the channel; members are connected to on first use (readiness: `check`)."""
        await self._client.open()

    async def close(self) -> None:
        """Every answered write is already durable in etcd: only the channel is closed."""
        await self._client.close()

    async def get(self, key: str) -> Entry | None:
        response = await self._client.range(rpc_pb2.RangeRequest(key=self._keys.key(key)))
        return self._keys.first(response)

    async def write(self, write: Write) -> Written:
        key = self._keys.key(write.key)
        if write.kind is WriteKind.PUT and len(write.value_json) > SINGLE_TRIP_VALUE_BYTES:
            return await self._swap(write, key)
        return outcome(write, await self._client.txn(request(write, key)), self._keys)

    async def _swap(self, write: Write, key: bytes) -> Written:
        """A PUT in two steps: read the entry, decide, put only if the key is unchanged since."""
        for _ in range(MAX_SWAP_ATTEMPTS):
            read = await self._client.range(rpc_pb2.RangeRequest(key=key))
            current = self._keys.first(read)
            decision = write.decide(current)
            if decision is Decision.UNCHANGED:
                assert current is not None
                return Written.apply(write, current, decision, current.revision)
            seen = read.kvs[0].mod_revision if read.kvs else 0
            response = await self._client.txn(swap_request(key, write.value_json, seen))
            if response.succeeded:
                return Written.apply(write, current, decision, response.header.revision)
        raise StorageUnavailable(
            f"key {write.key!r} changed under each of {MAX_SWAP_ATTEMPTS} attempts; not written"
        )

    async def check(self) -> None:
        """A linearizable read of one key: etcd answers it only with a quorum and a leader."""
        await self._client.range(
            rpc_pb2.RangeRequest(key=self._keys.prefix, limit=1, count_only=True)
        )
