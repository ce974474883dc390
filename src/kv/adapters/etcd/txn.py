"""The domain's writes as etcd transactions, and what etcd's answers mean for them.

The first attempt at a write is one Txn whose compares are the write's rules,
so etcd decides it atomically at its own revision:

- PUT: the condition as compares (`mod_revision == r`; `create_revision > 0`
  for "exists", `== 0` for "absent"); when they hold, a nested Txn compares the
  stored value with the new one: equal, it only reads the key (a put of the
  stored value keeps its revision); else it puts, answering the previous
  entry. Both branches are decided at one revision, with nothing in between.
- CREATE: `create_revision == 0`, then put.
- DELETE: the condition and `create_revision > 0`, then delete, answering the
  entry deleted.

Every one also requires `lease == 0`: the key has no expiry. When the compares
fail, the failure branch reads the key at that same revision, and the store
decides on that entry itself (kv.adapters.etcd.store): an error of the
domain's rules, an expired entry to remove first, or an entry with an expiry,
written by a `swap_request` guarded by the `mod_revision` it read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kv.adapters.etcd.values import Keyspace, delete_marker
from kv.domain import Condition, Decision, Entry, Write, WriteKind, Written
from kv.etcdpb import kv_pb2, rpc_pb2

if TYPE_CHECKING:  # the type protobuf's stubs give a repeated message field
    from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

    Ops = RepeatedCompositeFieldContainer[rpc_pb2.RequestOp]
    Compares = RepeatedCompositeFieldContainer[rpc_pb2.Compare]

Compare = rpc_pb2.Compare

# etcd refuses a request over --max-request-bytes (1.5 MiB by default). A value compare carries
# the value besides the put: 2 x 640 KiB plus a key of at most 1 KiB (three times) stays
# well under it. A larger PUT is read, decided and swapped (docs/etcd.md, "Large values").
SINGLE_TRIP_VALUE_BYTES = 640 * 1024


# The builders below fill each request in place (`ops.add()`, `compare.add()`): protobuf copies
# a message handed to a constructor or to `append`, so a nested Txn assembled from separately
# built parts would be copied again at every level, on every write.
def _add_range(ops: Ops, key: bytes, *, keys_only: bool = False) -> None:
    read = ops.add().request_range
    read.key = key
    read.keys_only = keys_only


def _add_put(ops: Ops, key: bytes, value: bytes, lease: int, *, prev_kv: bool = False) -> None:
    put = ops.add().request_put
    put.key, put.value, put.lease, put.prev_kv = key, value, lease, prev_kv


def _add_delete(ops: Ops, key: bytes) -> None:
    delete = ops.add().request_delete_range
    delete.key = key
    delete.prev_kv = True


def _add_exists(compares: Compares, key: bytes, exists: bool) -> None:
    compare = compares.add()
    compare.key, compare.target, compare.create_revision = key, Compare.CREATE, 0
    compare.result = Compare.GREATER if exists else Compare.EQUAL


def _add_no_expiry(compares: Compares, key: bytes) -> None:
    compare = compares.add()
    compare.key, compare.target, compare.result, compare.lease = (
        key,
        Compare.LEASE,
        Compare.EQUAL,
        0,
    )


def _add_unchanged(compares: Compares, key: bytes, mod_revision: int) -> None:
    compare = compares.add()
    compare.key, compare.target, compare.result = key, Compare.MOD, Compare.EQUAL
    compare.mod_revision = mod_revision


def _add_condition(compares: Compares, key: bytes, condition: Condition | None) -> None:
    """Compares that hold exactly when `condition` is met by the entry at `key`."""
    if condition is None:
        return
    if condition.revision is not None:
        # An absent key has mod_revision 0, and a condition's revision is at least 1.
        _add_unchanged(compares, key, condition.revision)
    elif condition.must_exist is not None:
        _add_exists(compares, key, condition.must_exist)


def request(write: Write, key: bytes, value: bytes, lease: int) -> rpc_pb2.TxnRequest:
    """The one Txn that carries out `write` on a key without expiry (`value`: what to store)."""
    txn = rpc_pb2.TxnRequest()
    _add_condition(txn.compare, key, write.condition)
    _add_no_expiry(txn.compare, key)
    if write.kind is WriteKind.DELETE:
        _add_exists(txn.compare, key, True)
        _add_delete(txn.success, key)
    elif write.kind is WriteKind.CREATE:
        _add_exists(txn.compare, key, False)
        _add_put(txn.success, key, value, lease)
    else:
        unless_same = txn.success.add().request_txn
        same = unless_same.compare.add()
        same.key, same.target, same.result = key, Compare.VALUE, Compare.EQUAL
        same.value = value
        _add_range(unless_same.success, key, keys_only=True)
        _add_put(unless_same.failure, key, value, lease, prev_kv=True)
    _add_range(txn.failure, key)
    return txn


def swap_request(
    key: bytes, decision: Decision, value: bytes, lease: int, found: kv_pb2.KeyValue | None
) -> rpc_pb2.TxnRequest:
    """Carry out `decision` only if the key is still as `found` read it (None: still absent).

    Removing a key with a lease also puts its delete marker on that lease
    (kv.adapters.etcd.values), at the same revision: the delete was the user's.
    The compare holds only while the key is on its lease, so the lease exists.
    """
    txn = rpc_pb2.TxnRequest()
    _add_unchanged(txn.compare, key, 0 if found is None else found.mod_revision)
    if decision is not Decision.REMOVE:
        _add_put(txn.success, key, value, lease)
        return txn
    _add_delete(txn.success, key)
    if found is not None and found.lease:
        _add_put(txn.success, delete_marker(key), b"", found.lease)
    return txn


def refused_kv(response: rpc_pb2.TxnResponse) -> kv_pb2.KeyValue | None:
    """The key as read by the failure branch of a `request` whose compares failed."""
    kvs = response.responses[0].response_range.kvs
    return kvs[0] if kvs else None


def outcome(write: Write, response: rpc_pb2.TxnResponse, keyspace: Keyspace, now: float) -> Written:
    """What a `request(write, ...)` whose compares held did, from etcd's answer."""
    revision = response.header.revision
    if write.kind is WriteKind.DELETE:
        deleted = keyspace.entry(response.responses[0].response_delete_range.prev_kvs[0])
        return Written.apply(write, deleted, Decision.REMOVE, revision, now)
    if write.kind is WriteKind.CREATE:
        return Written.apply(write, None, Decision.STORE, revision, now)
    nested = response.responses[0].response_txn
    if nested.succeeded:
        # The stored value is the write's (the same compact JSON), read without sending it back.
        stored = nested.responses[0].response_range.kvs[0]
        same = Entry(write.key, write.value, stored.mod_revision)
        return Written.apply(write, same, Decision.UNCHANGED, same.revision, now)
    put = nested.responses[0].response_put
    previous = keyspace.entry(put.prev_kv) if put.HasField("prev_kv") else None
    return Written.apply(write, previous, Decision.STORE, revision, now)
