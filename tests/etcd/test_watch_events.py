"""How etcd's watch events become changes (kv.adapters.etcd.values.decode), without etcd:
delete markers are read, never reported, and tell a user's delete from an expiry."""

from __future__ import annotations

from kv.adapters.etcd.values import Keyspace, decode, delete_marker
from kv.etcdpb import kv_pb2

KEYS = Keyspace("/kv/")
PUT, DELETE = kv_pb2.Event.PUT, kv_pb2.Event.DELETE


def event(
    kind: kv_pb2.Event.EventType,
    key: bytes,
    revision: int,
    value: bytes = b"",
    *,
    prev_lease: int | None = None,
) -> kv_pb2.Event:
    kv = kv_pb2.KeyValue(key=key, value=value, mod_revision=revision)
    if prev_lease is None:
        return kv_pb2.Event(type=kind, kv=kv)
    previous = kv_pb2.KeyValue(key=key, value=b"1", lease=prev_lease)
    return kv_pb2.Event(type=kind, kv=kv, prev_kv=previous)


def test_a_put_is_its_entry_with_the_stored_json_without_the_expiry_header() -> None:
    stored = b"\x00expires_at=1700000000.5\n" + b'{"a":1}'
    (change,) = decode([event(PUT, b"/kv/k", 7, stored)], KEYS)
    assert (change.kind, change.key, change.revision, change.value) == ("put", "k", 7, {"a": 1})
    assert change.value_json == b'{"a":1}'
    assert change.entry is not None
    assert change.entry.expires_at == 1700000000.5


def test_a_delete_of_a_leased_key_is_an_expiry_unless_its_marker_came_with_it() -> None:
    key = b"/kv/k"
    user = [event(DELETE, key, 8, prev_lease=5), event(PUT, delete_marker(key), 8)]
    expiry = [event(DELETE, key, 9, prev_lease=6)]
    plain = [event(DELETE, key, 10, prev_lease=0)]
    marker_gone = [event(DELETE, delete_marker(key), 11, prev_lease=5)]
    changes = decode(user + expiry + plain + marker_gone, KEYS)
    assert [(c.kind, c.key, c.revision, c.expired) for c in changes] == [
        ("delete", "k", 8, False),
        ("delete", "k", 9, True),
        ("delete", "k", 10, False),
    ]


def test_a_marker_of_another_key_or_revision_does_not_make_a_delete_the_users() -> None:
    other = [event(PUT, delete_marker(b"/kv/other"), 12), event(DELETE, b"/kv/k", 12, prev_lease=3)]
    later = [event(DELETE, b"/kv/j", 13, prev_lease=3), event(PUT, delete_marker(b"/kv/j"), 14)]
    assert [c.expired for c in decode(other + later, KEYS)] == [True, True]


def test_a_delete_without_its_previous_entry_is_not_called_an_expiry() -> None:
    (change,) = decode([event(DELETE, b"/kv/k", 15)], KEYS)
    assert (change.kind, change.expired) == ("delete", False)
