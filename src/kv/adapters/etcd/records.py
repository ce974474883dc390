"""Idempotency records in etcd: beside the kv keys, never among them, on shared leases.

A record is the etcd key `0xFF <prefix> "idempotency/" <scoped key>`. Every
kv key (and delete marker) starts with the prefix, whose UTF-8 never starts
with 0xFF, so no kv key, listing or watch (all ranges over the prefix) ever
meets a record. Its value is `IdempotencyRecord.encode()`; the outcome in
it is the one decided before the Txn, moved on reading to the record's
`mod_revision`, the revision of the Txn that wrote it with its changes.

Records expire on a lease: one lease per minute of writes, granted for the
ttl plus that minute, so it outlives every record put on it; etcd removes
them (in its own bounded steps) when it ends, and a record read after its
`expires_at` but not yet removed counts as none.
"""

from __future__ import annotations

from kv.adapters.etcd.client import EtcdClient
from kv.domain import IdempotencyRecord
from kv.etcdpb import kv_pb2, rpc_pb2

_BUCKET_SECONDS = 60


class EtcdRecords:
    """Where the records of the store with key prefix `prefix` live, and their leases."""

    def __init__(self, client: EtcdClient, prefix: bytes) -> None:
        self._client = client
        self._prefix = b"\xff" + prefix + b"idempotency/"
        self._leases: dict[tuple[int, int], int] = {}  # (minute, ttl) -> lease

    def key(self, scoped_key: str) -> bytes:
        return self._prefix + scoped_key.encode("utf-8")

    def read(self, scoped_key: str, kv: kv_pb2.KeyValue | None) -> IdempotencyRecord | None:
        """The record as read at `kv` (None: none there)."""
        if kv is None:
            return None
        return IdempotencyRecord.decode(scoped_key, kv.value).written_at(kv.mod_revision)

    async def put(self, record: IdempotencyRecord, ttl: int, now: float) -> rpc_pb2.RequestOp:
        """The op that writes `record` on the lease of this minute (granted on first use)."""
        bucket = (int(now // _BUCKET_SECONDS), ttl)
        lease = self._leases.get(bucket)
        if lease is None:
            lease = await self._client.grant(ttl + _BUCKET_SECONDS)
            self._leases = {bucket: lease}  # older minutes' leases are no longer used
        put = rpc_pb2.PutRequest(key=self.key(record.key), value=record.encode(), lease=lease)
        return rpc_pb2.RequestOp(request_put=put)
