"""Redis commands run on a snapshot of a few keys, for EXEC, MSET, MSETNX and INCR.

A queued transaction (MULTI ... EXEC), and each command that must change its
keys atomically, is run here on the entries read in one snapshot: each
command sees what the commands before it did and gets its reply, as Redis
runs them one after another with nothing in between. What they changed is
then written as ONE transaction of the service, guarded by the revisions read
(`kv.transports.resp.transactions`), so the writes all take one revision, or
none do and the whole run is done again on a fresh snapshot.

A command's own error (INCR of a value that is not an integer, a SET with a
bad option) is its reply, and the others still apply, as Redis does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kv.domain import Entry, JsonValue, KVError
from kv.transports.resp.errors import CommandError, command_error_reply, domain_error_reply
from kv.transports.resp.keyspace import set_options
from kv.transports.resp.replies import OK, PONG, Reply
from kv.transports.resp.session import Arguments
from kv.transports.resp.values import as_redis_value, key_of, text_of

NOT_AN_INTEGER = CommandError("value is not an integer or out of range")
# INCRBY's result must fit a signed 64-bit integer, as Redis's does.
INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True, slots=True)
class Held:
    """A key's state in the snapshot: its value and seconds left (None: no expiry)."""

    value: JsonValue
    ttl: int | None = None


class Snapshot:
    """The keys of a run as read at one revision, and what the commands did to them."""

    def __init__(
        self, entries: dict[str, Entry | None], ttl_left: Callable[[Entry], int | None]
    ) -> None:
        self._held: dict[str, Held | None] = {
            key: None if entry is None else Held(entry.value, ttl_left(entry))
            for key, entry in entries.items()
        }
        self._changed: dict[str, None] = {}  # keys written, in the order first written

    def run(self, request: Arguments) -> Reply:
        """The reply of one command (name first), with its effect on the snapshot."""
        name, args = request[0].upper(), request[1:]
        try:
            return SNAPSHOT_COMMANDS[name](self, args)
        except CommandError as exc:
            return command_error_reply(exc)
        except KVError as exc:
            return domain_error_reply(exc)

    def ops(self) -> list[dict[str, object]]:
        """The transaction ops that write what the commands changed, in the order changed."""
        ops: list[dict[str, object]] = []
        for key in self._changed:
            held = self._held[key]
            if held is None:
                ops.append({"op": "delete", "key": key})
            elif held.ttl is None:
                ops.append({"op": "put", "key": key, "value": held.value})
            else:
                ops.append({"op": "put", "key": key, "value": held.value, "ttl": held.ttl})
        return ops

    def get(self, key: str) -> Held | None:
        return self._held[key]

    def set(self, key: str, held: Held | None) -> None:
        self._held[key] = held
        self._changed[key] = None


def _get(snapshot: Snapshot, args: Arguments) -> Reply:
    held = snapshot.get(key_of(args[0]))
    return None if held is None else as_redis_value(held.value)


def _mget(snapshot: Snapshot, args: Arguments) -> Reply:
    return [_get(snapshot, [word]) for word in args]


def _set(snapshot: Snapshot, args: Arguments) -> Reply:
    key, value = key_of(args[0]), text_of(args[1])
    options = set_options(args[2:])
    old = snapshot.get(key)
    old_value = None if old is None else as_redis_value(old.value)
    if options.must_exist is not None and options.must_exist != (old is not None):
        return old_value if options.get else None
    ttl = old.ttl if options.keep_ttl and old is not None else options.ttl
    snapshot.set(key, Held(value, ttl))
    return old_value if options.get else OK


def _delete(snapshot: Snapshot, args: Arguments) -> Reply:
    removed = 0
    for key in map(key_of, args):
        if snapshot.get(key) is not None:
            snapshot.set(key, None)
            removed += 1
    return removed


def _exists(snapshot: Snapshot, args: Arguments) -> Reply:
    return sum(snapshot.get(key_of(word)) is not None for word in args)


def _getdel(snapshot: Snapshot, args: Arguments) -> Reply:
    reply = _get(snapshot, args)
    if reply is not None:
        snapshot.set(key_of(args[0]), None)
    return reply


def _pairs(args: Arguments) -> list[tuple[str, str]]:
    if not args or len(args) % 2:
        raise CommandError("wrong number of arguments for 'mset' command")
    return [(key_of(args[i]), text_of(args[i + 1])) for i in range(0, len(args), 2)]


def _mset(snapshot: Snapshot, args: Arguments) -> Reply:
    for key, value in _pairs(args):
        snapshot.set(key, Held(value))
    return OK


def _msetnx(snapshot: Snapshot, args: Arguments) -> Reply:
    pairs = _pairs(args)
    if any(snapshot.get(key) is not None for key, _ in pairs):
        return 0
    for key, value in pairs:
        snapshot.set(key, Held(value))
    return 1


def integer_of(value: JsonValue) -> int:
    """A stored value INCR may count on: a JSON integer, or a string of one (what SET stored)."""
    if type(value) is int:
        return value
    if type(value) is str and value.strip() == value and value.lstrip("-").isdigit():
        try:
            return int(value)
        except ValueError:
            pass
    raise NOT_AN_INTEGER


def _increment(snapshot: Snapshot, key: str, by: int) -> Reply:
    held = snapshot.get(key)
    result = (0 if held is None else integer_of(held.value)) + by
    if not INT64[0] <= result <= INT64[1]:
        raise CommandError("increment or decrement would overflow")
    # INCR keeps the key's expiry, as Redis does.
    snapshot.set(key, Held(result, None if held is None else held.ttl))
    return result


def _amount(word: bytes) -> int:
    try:
        amount = int(word)
    except ValueError:
        raise NOT_AN_INTEGER from None
    if not INT64[0] <= amount <= INT64[1]:
        raise NOT_AN_INTEGER
    return amount


def _incr(snapshot: Snapshot, args: Arguments) -> Reply:
    return _increment(snapshot, key_of(args[0]), 1)


def _decr(snapshot: Snapshot, args: Arguments) -> Reply:
    return _increment(snapshot, key_of(args[0]), -1)


def _incrby(snapshot: Snapshot, args: Arguments) -> Reply:
    return _increment(snapshot, key_of(args[0]), _amount(args[1]))


def _decrby(snapshot: Snapshot, args: Arguments) -> Reply:
    return _increment(snapshot, key_of(args[0]), -_amount(args[1]))


def _ping(snapshot: Snapshot, args: Arguments) -> Reply:
    return args[0] if args else PONG


def _echo(snapshot: Snapshot, args: Arguments) -> Reply:
    return args[0]


# The commands a snapshot runs, and so the only ones MULTI queues.
SNAPSHOT_COMMANDS: dict[bytes, Callable[[Snapshot, Arguments], Reply]] = {
    b"GET": _get,
    b"MGET": _mget,
    b"SET": _set,
    b"DEL": _delete,
    b"UNLINK": _delete,
    b"EXISTS": _exists,
    b"GETDEL": _getdel,
    b"MSET": _mset,
    b"MSETNX": _msetnx,
    b"INCR": _incr,
    b"DECR": _decr,
    b"INCRBY": _incrby,
    b"DECRBY": _decrby,
    b"PING": _ping,
    b"ECHO": _echo,
}
# Commands whose every argument is a key (the rest: key value pairs, or one key first).
_ALL_KEYS = {b"MGET", b"DEL", b"UNLINK", b"EXISTS"}
_PAIRS = {b"MSET", b"MSETNX"}
_NO_KEYS = {b"PING", b"ECHO"}


def keys_of(requests: Iterable[Arguments]) -> list[str]:
    """Every key the commands touch, each once, in order (InvalidRequest: a key not UTF-8)."""
    keys: dict[str, None] = {}
    for request in requests:
        name, args = request[0].upper(), request[1:]
        if name in _NO_KEYS:
            continue
        if name in _ALL_KEYS:
            words = args
        elif name in _PAIRS:
            words = args[::2]
        else:
            words = args[:1]
        for word in words:
            keys[key_of(word)] = None
    return list(keys)
