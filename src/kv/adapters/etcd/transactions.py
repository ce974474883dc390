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
    ranges = [rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key)) for key in keys]
    return rpc_pb2.TxnRequest(success=ranges)


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
    guards = [
        Compare(
            key=key,
            target=Compare.MOD,
            result=Compare.EQUAL,
            mod_revision=0 if kv is None else kv.mod_revision,
        )
        for key, kv in found.items()
    ]
    ops: list[rpc_pb2.RequestOp] = []
    for write, written in outcome.changes():
        key = keyspace.key(write.key)
        if written.entry is not None:
            lease = 0 if write.ttl is None else leases[write.ttl]
            put = rpc_pb2.PutRequest(key=key, value=stored_value(write, now), lease=lease)
            ops.append(rpc_pb2.RequestOp(request_put=put))
            continue
        ops.append(rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=key)))
        previous = found.get(key)
        if previous is not None and previous.lease:
            marker = rpc_pb2.PutRequest(key=delete_marker(key), value=b"", lease=previous.lease)
            ops.append(rpc_pb2.RequestOp(request_put=marker))
    request = rpc_pb2.TxnRequest(compare=guards, success=ops)
    size = request.ByteSize() + REQUEST_OVERHEAD
    if size > max_request_bytes:
        raise ValueTooLarge(
            f"the transaction is {size} bytes as an etcd request; etcd accepts "
            f"at most {max_request_bytes}"
        )
    return request
