"""How an entry is kept in etcd: its key after the prefix, its value as compact JSON.

An entry written with a ttl is attached to an etcd lease (etcd deletes the key
when the lease expires, at a revision of its own) and its value starts with a
header that keeps `expires_at`, which etcd's key-values do not carry:
`NUL "expires_at=" <float> LF <compact JSON>`. Compact JSON never starts with
NUL, so a value without the header is plain JSON (what `etcdctl get` shows).

A user's delete of a key with a lease also puts, at the same revision, the
key's *delete marker* `<key> 0xFF` (empty, on the same lease, so etcd removes
it when the lease ends): a watcher told a leased key was deleted knows by it
that the delete was the user's, not the key's expiry (kv.adapters.etcd.watch).
0xFF never occurs in UTF-8, so a marker is never a kv key; listings skip it.
"""

from __future__ import annotations

from collections.abc import Iterable

from kv.domain import Change, Entry, Write
from kv.etcdpb import kv_pb2
from kv.json_codec import read_json

_EXPIRY = b"\x00expires_at="
_MARKER = b"\xff"


def delete_marker(key: bytes) -> bytes:
    """The etcd key of the delete marker of the kv key at `key`."""
    return key + _MARKER


def is_delete_marker(key: bytes) -> bool:
    return key.endswith(_MARKER)


def stored_json(value: bytes) -> tuple[bytes, float | None]:
    """A stored value's compact JSON, and its `expires_at` (None: no expiry)."""
    if not value.startswith(_EXPIRY):
        return value, None
    header, _, document = value.partition(b"\n")
    return document, float(header[len(_EXPIRY) :])


def stored_value(write: Write, now: float) -> bytes:
    """The bytes `write` stores when applied at time `now`."""
    if write.ttl is None:
        return write.value_json
    return _EXPIRY + repr(now + write.ttl).encode() + b"\n" + write.value_json


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key that starts with `prefix` (etcd's range_end for a prefix)."""
    end = bytearray(prefix)
    while end and end[-1] == 0xFF:
        end.pop()
    if not end:
        return b"\x00"  # etcd: every key from `key` on
    end[-1] += 1
    return bytes(end)


class Keyspace:
    """Where kv's keys live in etcd: each key's UTF-8 after a prefix (KV_ETCD_PREFIX)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.encode("utf-8")

    def key(self, key: str) -> bytes:
        return self.prefix + key.encode("utf-8")

    def name(self, key: bytes) -> str:
        """The kv key an etcd key (not a delete marker) under the prefix holds."""
        return key[len(self.prefix) :].decode("utf-8")

    def entry(self, kv: kv_pb2.KeyValue, *, keys_only: bool = False) -> Entry:
        """The entry an etcd key-value holds, at its `mod_revision`."""
        value, expires_at = stored_json(kv.value)
        document = None if keys_only else read_json(value)
        return Entry(self.name(kv.key), document, kv.mod_revision, expires_at)


def decode(events: Iterable[kv_pb2.Event], keys: Keyspace) -> list[Change]:
    """The changes etcd's events make, in their order; delete markers are read, not reported.

    A delete of a key that had a lease is its expiry (etcd's, or the store's
    revoke), unless the key's delete marker was put at the same revision.
    """
    events = list(events)
    marked = {
        (event.kv.mod_revision, event.kv.key)
        for event in events
        if event.type == kv_pb2.Event.PUT and is_delete_marker(event.kv.key)
    }
    changes: list[Change] = []
    for event in events:
        kv = event.kv
        if is_delete_marker(kv.key):
            continue
        if event.type == kv_pb2.Event.PUT:
            changes.append(Change.put(keys.entry(kv), stored_json(kv.value)[0]))
            continue
        # etcd reads prev_kv at the revision before the delete, which a stream from after the
        # compact revision keeps; were it compacted meanwhile, the delete is not called an expiry.
        leased = event.HasField("prev_kv") and event.prev_kv.lease != 0
        user = (kv.mod_revision, delete_marker(kv.key)) in marked
        changes.append(
            Change.delete(keys.name(kv.key), kv.mod_revision, expired=leased and not user)
        )
    return changes
