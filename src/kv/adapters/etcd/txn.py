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

from kv.adapters.etcd.values import Keyspace, delete_marker
from kv.domain import Condition, Decision, Entry, Write, WriteKind, Written
from kv.etcdpb import kv_pb2, rpc_pb2

Compare = rpc_pb2.Compare

# etcd refuses a request over --max-request-bytes (1.5 MiB by default). A value compare carries
# the value besides the put: 2 x 640 KiB plus a key of at most 1 KiB (three times) stays
# well under it. A larger PUT is read, decided and swapped (docs/etcd.md, "Large values").
SINGLE_TRIP_VALUE_BYTES = 640 * 1024


def _range(key: bytes, *, keys_only: bool = False) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key, keys_only=keys_only))


def _put(key: bytes, value: bytes, lease: int, *, prev_kv: bool = False) -> rpc_pb2.RequestOp:
    put = rpc_pb2.PutRequest(key=key, value=value, lease=lease, prev_kv=prev_kv)
    return rpc_pb2.RequestOp(request_put=put)


def _delete(key: bytes) -> rpc_pb2.RequestOp:
    delete = rpc_pb2.DeleteRangeRequest(key=key, prev_kv=True)
    return rpc_pb2.RequestOp(request_delete_range=delete)


def _exists(key: bytes, exists: bool) -> Compare:
    result = Compare.GREATER if exists else Compare.EQUAL
    return Compare(key=key, target=Compare.CREATE, result=result, create_revision=0)


def _no_expiry(key: bytes) -> Compare:
    return Compare(key=key, target=Compare.LEASE, result=Compare.EQUAL, lease=0)


def condition_compares(key: bytes, condition: Condition | None) -> list[Compare]:
    """The compares that hold exactly when `condition` is met by the entry at `key`."""
    if condition is None:
        return []
    if condition.revision is not None:
        # An absent key has mod_revision 0, and a condition's revision is at least 1.
        revision = condition.revision
        return [Compare(key=key, target=Compare.MOD, result=Compare.EQUAL, mod_revision=revision)]
    if condition.must_exist is None:
        return []
    return [_exists(key, condition.must_exist)]


def request(write: Write, key: bytes, value: bytes, lease: int) -> rpc_pb2.TxnRequest:
    """The one Txn that carries out `write` on a key without expiry (`value`: what to store)."""
    compares = [*condition_compares(key, write.condition), _no_expiry(key)]
    if write.kind is WriteKind.DELETE:
        success = [_delete(key)]
        compares.append(_exists(key, True))
    elif write.kind is WriteKind.CREATE:
        success = [_put(key, value, lease)]
        compares.append(_exists(key, False))
    else:
        same = Compare(key=key, target=Compare.VALUE, result=Compare.EQUAL, value=value)
        unless_same = rpc_pb2.TxnRequest(
            compare=[same],
            success=[_range(key, keys_only=True)],
            failure=[_put(key, value, lease, prev_kv=True)],
        )
        success = [rpc_pb2.RequestOp(request_txn=unless_same)]
    return rpc_pb2.TxnRequest(compare=compares, success=success, failure=[_range(key)])


def swap_request(
    key: bytes, decision: Decision, value: bytes, lease: int, found: kv_pb2.KeyValue | None
) -> rpc_pb2.TxnRequest:
    """Carry out `decision` only if the key is still as `found` read it (None: still absent).

    Removing a key with a lease also puts its delete marker on that lease
    (kv.adapters.etcd.values), at the same revision: the delete was the user's.
    The compare holds only while the key is on its lease, so the lease exists.
    """
    seen = 0 if found is None else found.mod_revision
    unchanged = Compare(key=key, target=Compare.MOD, result=Compare.EQUAL, mod_revision=seen)
    if decision is not Decision.REMOVE:
        return rpc_pb2.TxnRequest(compare=[unchanged], success=[_put(key, value, lease)])
    success = [_delete(key)]
    if found is not None and found.lease:
        success.append(_put(delete_marker(key), b"", found.lease))
    return rpc_pb2.TxnRequest(compare=[unchanged], success=success)


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
