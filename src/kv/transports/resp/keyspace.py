"""The Redis data commands over the KV service: SET, GET, GETDEL, DEL, EXISTS, MGET.

Values are mapped as `values.py` says. What Redis answers with a null reply
(no such key, SET NX on a key that exists, SET XX on one that does not)
is a null reply here too; every other failure goes through the error table.
SET's expiry options are read here and mean what `expiry.py` says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from kv.domain import (
    Condition,
    JsonValue,
    KeyExists,
    KeyNotFound,
    KVError,
    PreconditionFailed,
    Written,
)
from kv.domain.model import validate_key
from kv.transports.resp.errors import CommandError
from kv.transports.resp.expiry import seconds_of, whole_number
from kv.transports.resp.replies import OK, Reply, Streamed
from kv.transports.resp.session import Arguments, Batched, CommandSpec, Deferred, Session
from kv.transports.resp.values import as_redis_value, key_of, text_of

# SET ... GET (or KEEPTTL) reads the old entry and writes only if it is still the one
# read; a write in between makes it read again, at most this many times.
SET_GET_ATTEMPTS = 16

# SCAN's COUNT when none is given (as Redis), and the most one page holds.
DEFAULT_SCAN_COUNT = 10
MAX_SCAN_COUNT = 1000


async def get(session: Session, args: Arguments) -> Reply:
    try:
        entry = await session.service.get(key_of(args[0]))
    except KeyNotFound:
        return None
    return as_redis_value(entry.value)


async def mget(session: Session, args: Arguments) -> Reply:
    """The values of the keys, read one at a time as the client takes them (Streamed).

    Every key is checked before the first value is sent: a bad one fails the
    whole command, as it would before anything was read.
    """
    keys = [validate_key(key_of(word)) for word in args]

    async def values() -> AsyncIterator[Reply]:
        for key in keys:
            try:
                entry = await session.service.get(key)
            except KeyNotFound:
                yield None
            else:
                yield as_redis_value(entry.value)

    return Streamed(len(keys), values())


async def getdel(session: Session, args: Arguments) -> Reply:
    try:
        entry = await session.service.delete(key_of(args[0]))
    except KeyNotFound:
        return None
    return as_redis_value(entry.value)


def plan_delete(session: Session, args: Arguments) -> Deferred:
    """DEL of one key, planned: 1 when it removed an entry, 0 when there was none."""
    return Deferred((session.service.plan_delete(key_of(args[0])),), _removed)


def _removed(results: Sequence[Written | KVError]) -> Reply:
    (result,) = results
    if isinstance(result, KeyNotFound):
        return 0
    if isinstance(result, KVError):
        raise result
    return 1


def one_key(args: Arguments) -> bool:
    return len(args) == 1


async def delete(session: Session, args: Arguments) -> Reply:
    if one_key(args):
        return await plan_delete(session, args).run(session.service)
    removed = 0
    for word in args:
        try:
            await session.service.delete(key_of(word))
        except KeyNotFound:
            continue
        removed += 1
    return removed


async def exists(session: Session, args: Arguments) -> Reply:
    found = 0
    for word in args:
        try:
            await session.service.get(key_of(word))
        except KeyNotFound:
            continue
        found += 1
    return found


@dataclass(frozen=True, slots=True)
class SetOptions:
    """SET's options: NX/XX as `must_exist` (None: either), GET, and the expiry."""

    must_exist: bool | None = None
    get: bool = False
    ttl: int | None = None
    keep_ttl: bool = False


PLAIN_SET = SetOptions()


def set_options(words: Arguments) -> SetOptions:
    if not words:
        return PLAIN_SET
    flags: set[bytes] = set()
    ttl = None
    position = 0
    while position < len(words):
        word = words[position].upper()
        if word in (b"EX", b"PX") and ttl is None and position + 1 < len(words):
            ttl = seconds_of(words[position + 1], word)
            position += 2
            continue
        if word in (b"EXAT", b"PXAT"):
            raise CommandError("EXAT and PXAT are not supported: use EX or PX")
        if word not in (b"NX", b"XX", b"GET", b"KEEPTTL") or word in flags:
            raise CommandError("syntax error")
        flags.add(word)
        position += 1
    if {b"NX", b"XX"} <= flags or (ttl is not None and b"KEEPTTL" in flags):
        raise CommandError("syntax error")
    must_exist = True if b"XX" in flags else False if b"NX" in flags else None
    return SetOptions(must_exist, b"GET" in flags, ttl, b"KEEPTTL" in flags)


def plain_set(args: Arguments) -> bool:
    """Whether a SET writes without reading first (no GET, no KEEPTTL): one planned write."""
    return not any(word.upper() in (b"GET", b"KEEPTTL") for word in args[2:])


def plan_set(session: Session, args: Arguments) -> Deferred:
    """A plain SET, planned: OK, or null when NX or XX did not allow the write."""
    key, value = key_of(args[0]), text_of(args[1])
    options = set_options(args[2:])
    service = session.service
    if options.must_exist is None:
        planned = service.plan_put(key, value, ttl=options.ttl)
    elif options.must_exist:
        planned = service.plan_put(key, value, Condition.exists(), ttl=options.ttl)
    else:
        planned = service.plan_create(key, value, ttl=options.ttl)
    return Deferred((planned,), _set_answer)


def _set_answer(results: Sequence[Written | KVError]) -> Reply:
    (result,) = results
    if isinstance(result, (KeyExists, PreconditionFailed)):
        return None
    if isinstance(result, KVError):
        raise result
    return OK


async def set_(session: Session, args: Arguments) -> Reply:
    if plain_set(args):
        return await plan_set(session, args).run(session.service)
    key, value = key_of(args[0]), text_of(args[1])
    return await _set_after_reading(session, key, value, set_options(args[2:]))


async def _set_after_reading(
    session: Session, key: str, value: JsonValue, options: SetOptions
) -> Reply:
    """SET with GET or KEEPTTL: read the entry, then write only if it is still the one read.

    Answers the old value (GET) or OK, or null when NX/XX did not allow the write.
    """
    service = session.service
    for _ in range(SET_GET_ATTEMPTS):
        try:
            old = await service.get(key)
        except KeyNotFound:
            old = None
        old_value = None if old is None else as_redis_value(old.value)
        allowed = options.must_exist is None or options.must_exist == (old is not None)
        if not allowed:
            return old_value if options.get else None
        condition = Condition.absent() if old is None else Condition.at_revision(old.revision)
        ttl = options.ttl
        if options.keep_ttl and old is not None:
            ttl = service.ttl_left(old) or None
        try:
            await service.put(key, value, condition, ttl=ttl)
        except (PreconditionFailed, KeyNotFound):
            continue  # written in between: read again
        return old_value if options.get else OK
    raise CommandError("the key kept changing; try again", code="TRYAGAIN")


async def scan(session: Session, args: Arguments) -> Reply:
    """SCAN cursor [MATCH prefix*] [COUNT n]: a page of keys and the next cursor ("0": done).

    Redis clients read a cursor as an unsigned 64-bit number: the service's
    own cursor (opaque text) travels as a number of the server's cursor
    table (scan_cursors.py). MATCH
    takes a prefix followed by one `*`, the only pattern a key-ordered listing
    answers without reading every key.
    """
    prefix, count = "", DEFAULT_SCAN_COUNT
    words = args[1:]
    while words:
        option = words[0].upper()
        if len(words) < 2:
            raise CommandError("syntax error")
        if option == b"MATCH":
            prefix = prefix_of(words[1])
        elif option == b"COUNT":
            count = whole_number(words[1])
            if count < 1:
                raise CommandError("syntax error")
        elif option == b"TYPE":
            if words[1].lower() != b"string":
                return [b"0", []]
        else:
            raise CommandError("syntax error")
        words = words[2:]
    cursor = session.scans.cursor(args[0])
    page = await session.service.list(
        prefix, limit=min(count, MAX_SCAN_COUNT), cursor=cursor, keys_only=True
    )
    next_cursor = "0" if page.next_cursor is None else str(session.scans.number(page.next_cursor))
    return [next_cursor, [entry.key for entry in page.entries]]


def prefix_of(pattern: bytes) -> str:
    text = key_of(pattern) if pattern else ""
    prefix = text[:-1] if text.endswith("*") else None
    if prefix is None or any(mark in prefix for mark in "*?[\\"):
        raise CommandError("SCAN MATCH takes a prefix followed by one '*', e.g. MATCH user:*")
    return prefix


KEYSPACE_COMMANDS: dict[bytes, CommandSpec] = {
    b"GET": CommandSpec(get, 2, ("readonly", "fast"), 1, 1, 1),
    b"MGET": CommandSpec(mget, -2, ("readonly", "fast"), 1, -1, 1),
    b"SET": CommandSpec(set_, -3, ("write",), 1, 1, 1, Batched(plan_set, plain_set)),
    b"GETDEL": CommandSpec(getdel, 2, ("write", "fast"), 1, 1, 1),
    b"DEL": CommandSpec(delete, -2, ("write",), 1, -1, 1, Batched(plan_delete, one_key)),
    # kv frees nothing in the background: UNLINK is DEL.
    b"UNLINK": CommandSpec(delete, -2, ("write",), 1, -1, 1, Batched(plan_delete, one_key)),
    b"EXISTS": CommandSpec(exists, -2, ("readonly", "fast"), 1, -1, 1),
    b"SCAN": CommandSpec(scan, -2, ("readonly",)),
}
