"""The domain's writes as etcd transactions, and what etcd's answers mean for them.

Each write is one Txn whose compares are the write's rules, so etcd decides
it atomically at its own revision:

- PUT: the condition as compares (`mod_revision == r`; `create_revision > 0`
  for "exists", `== 0` for "absent"); when they hold, a nested Txn compares the
  stored value with the new one: equal, it only reads the key (a put of the
  stored value keeps its revision); else it puts, answering the previous
  entry. Both branches are decided at one revision, with nothing in between.
- CREATE: `create_revision == 0`, then put.
- DELETE: the condition and `create_revision > 0`, then delete, answering the
  entry deleted.

When the compares fail, the failure branch reads the key at that same
revision and `Write.decide` on it names the error (PreconditionFailed,
KeyExists, KeyNotFound). A value compare sends the value a second time, so a
PUT of a value larger than SINGLE_TRIP_VALUE_BYTES is made by kv.adapters.etcd.store
in two steps instead (read, then a put guarded by the `mod_revision` read).
"""

from __future__ import annotations

from kv.domain import Condition, Decision, Entry, Write, WriteKind, Written
from kv.etcdpb import kv_pb2, rpc_pb2
from kv.json_codec import read_json

Compare = rpc_pb2.Compare

# etcd refuses a request over --max-request-bytes (1.5 MiB by default). A value compare carries
# the value besides the put: 2 x 640 KiB plus a key of at most 1 KiB (three times) stays
# well under it. Larger values take the two-step path (docs/etcd.md, "Large values").
SINGLE_TRIP_VALUE_BYTES = 640 * 1024


class Keyspace:
    """Where kv's keys live in etcd: each key's UTF-8 after a prefix (KV_ETCD_PREFIX)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.encode("utf-8")

    def key(self, key: str) -> bytes:
        return self.prefix + key.encode("utf-8")

    def entry(self, kv: kv_pb2.KeyValue) -> Entry:
        """The entry an etcd key-value holds: its compact JSON, at its `mod_revision`."""
        key = kv.key[len(self.prefix) :].decode("utf-8")
        return Entry(key, read_json(kv.value), kv.mod_revision)

    def first(self, response: rpc_pb2.RangeResponse) -> Entry | None:
        return self.entry(response.kvs[0]) if response.kvs else None


def _range(key: bytes, *, keys_only: bool = False) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key, keys_only=keys_only))


def _put(key: bytes, value: bytes, *, prev_kv: bool = False) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value, prev_kv=prev_kv))


def _exists(key: bytes, exists: bool) -> Compare:
    result = Compare.GREATER if exists else Compare.EQUAL
    return Compare(key=key, target=Compare.CREATE, result=result, create_revision=0)


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


def request(write: Write, key: bytes) -> rpc_pb2.TxnRequest:
    """The one Txn that carries out `write` (a PUT up to SINGLE_TRIP_VALUE_BYTES)."""
    compares = condition_compares(key, write.condition)
    if write.kind is WriteKind.DELETE:
        delete = rpc_pb2.DeleteRangeRequest(key=key, prev_kv=True)
        return rpc_pb2.TxnRequest(
            compare=[*compares, _exists(key, True)],
            success=[rpc_pb2.RequestOp(request_delete_range=delete)],
            failure=[_range(key)],
        )
    if write.kind is WriteKind.CREATE:
        return rpc_pb2.TxnRequest(
            compare=[_exists(key, False)],
            success=[_put(key, write.value_json)],
            failure=[_range(key)],
        )
    same_value = Compare(
        key=key, target=Compare.VALUE, result=Compare.EQUAL, value=write.value_json
    )
    unless_same = rpc_pb2.TxnRequest(
        compare=[same_value],
        success=[_range(key, keys_only=True)],
        failure=[_put(key, write.value_json, prev_kv=True)],
    )
    return rpc_pb2.TxnRequest(
        compare=compares,
        success=[rpc_pb2.RequestOp(request_txn=unless_same)],
        failure=[_range(key)],
    )


def swap_request(key: bytes, value: bytes, mod_revision: int) -> rpc_pb2.TxnRequest:
    """Put `value` only if the key is still at `mod_revision` (0: still absent)."""
    unchanged = Compare(
        key=key, target=Compare.MOD, result=Compare.EQUAL, mod_revision=mod_revision
    )
    return rpc_pb2.TxnRequest(compare=[unchanged], success=[_put(key, value)])


def refusal(write: Write, current: Entry | None) -> Written:
    """Raise the domain's error for a write whose compares failed on `current`."""
    write.decide(current)  # raises: the compares are the same rules
    raise RuntimeError(f"etcd refused a write its rules allow: {write.kind} on {current}")


def outcome(write: Write, response: rpc_pb2.TxnResponse, keyspace: Keyspace) -> Written:
    """What `request(write, ...)` did, from etcd's answer."""
    if not response.succeeded:
        return refusal(write, keyspace.first(response.responses[0].response_range))
    revision = response.header.revision
    if write.kind is WriteKind.DELETE:
        deleted = keyspace.entry(response.responses[0].response_delete_range.prev_kvs[0])
        return Written.apply(write, deleted, Decision.REMOVE, revision)
    if write.kind is WriteKind.CREATE:
        return Written.apply(write, None, Decision.STORE, revision)
    nested = response.responses[0].response_txn
    if nested.succeeded:
        # The stored value is the write's (the same compact JSON), read without sending it back.
        stored = nested.responses[0].response_range.kvs[0]
        same = Entry(write.key, write.value, stored.mod_revision)
        return Written.apply(write, same, Decision.UNCHANGED, same.revision)
    put = nested.responses[0].response_put
    previous = keyspace.entry(put.prev_kv) if put.HasField("prev_kv") else None
    return Written.apply(write, previous, Decision.STORE, revision)
