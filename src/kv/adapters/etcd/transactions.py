"""A transaction of several keys as ONE etcd Txn, guarded by what was read.

The domain decides a transaction (`Transaction.decide`: compares, branch,
the same-value rule, expiry) on the entries it is given; etcd must then apply
the outcome only if those entries are still what they were. So the store
reads every key the transaction touches in one read-only Txn (one snapshot,
at one revision), decides, and sends the changes as one etcd Txn whose
compares require each key's `mod_revision` to be the one read (0: still
absent): puts and deletes, all at etcd's next revision, or nothing. When
another write got in between, the guard fails and the store reads and
decides again. An outcome that changes nothing is answered from the read
alone (a linearizable read: the transaction took effect at its revision).

A request larger than etcd accepts (--max-request-bytes, 1.5 MiB by
default) is refused here, ValueTooLarge, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kv.adapters.etcd.values import Keyspace, delete_marker, stored_value
from kv.domain import Outcome, ValueTooLarge
from kv.etcdpb import kv_pb2, rpc_pb2

Compare = rpc_pb2.Compare

# etcd's default --max-request-bytes; what etcd wraps around a request (its raft entry's
# header) is allowed for by REQUEST_OVERHEAD.
ETCD_MAX_REQUEST_BYTES = 1536 * 1024
REQUEST_OVERHEAD = 1024


def read_request(keys: Sequence[bytes]) -> rpc_pb2.TxnRequest:
    """One read of every key, at one revision."""
    request = rpc_pb2.TxnRequest()
    for key in keys:
        request.success.add().request_range.key = key
    return request


def found_kvs(
    keys: Sequence[bytes], response: rpc_pb2.TxnResponse
) -> dict[bytes, kv_pb2.KeyValue | None]:
    """What a `read_request(keys)` found at each key (None: absent)."""
    found: dict[bytes, kv_pb2.KeyValue | None] = {}
    for key, answer in zip(keys, response.responses, strict=True):
        kvs = answer.response_range.kvs
        found[key] = kvs[0] if kvs else None
    return found


def guarded_request(
    outcome: Outcome,
    keyspace: Keyspace,
    found: Mapping[bytes, kv_pb2.KeyValue | None],
    leases: Mapping[int, int],
    now: float,
    max_request_bytes: int = ETCD_MAX_REQUEST_BYTES,
) -> rpc_pb2.TxnRequest:
    """The Txn that applies `outcome`'s changes if no key of `found` changed since it was read.

    `leases`: the lease of each ttl the changes use. A user's delete of a key
    with a lease also puts its delete marker on that lease (kv.adapters.etcd.values).
    ValueTooLarge when the request would exceed `max_request_bytes`.
    """
    request = rpc_pb2.TxnRequest()  # filled in place: protobuf copies what it is handed
    for key, kv in found.items():
        guard = request.compare.add()
        guard.key, guard.target, guard.result = key, Compare.MOD, Compare.EQUAL
        guard.mod_revision = 0 if kv is None else kv.mod_revision
    for write, written in outcome.changes():
        key = keyspace.key(write.key)
        if written.entry is not None:
            put = request.success.add().request_put
            put.key, put.value = key, stored_value(write, now)
            put.lease = 0 if write.ttl is None else leases[write.ttl]
            continue
        request.success.add().request_delete_range.key = key
        previous = found.get(key)
        if previous is not None and previous.lease:
            marker = request.success.add().request_put
            marker.key, marker.value, marker.lease = delete_marker(key), b"", previous.lease
    size = request.ByteSize() + REQUEST_OVERHEAD
    if size > max_request_bytes:
        raise ValueTooLarge(
            f"the transaction is {size} bytes as an etcd request; etcd accepts "
            f"at most {max_request_bytes}"
        )
    return request
