"""The Redis data commands over the KV service: SET, GET, GETDEL, DEL, EXISTS, MGET.

Values are mapped as `values.py` says. What Redis answers with a null reply
(no such key, SET NX on a key that exists, SET XX on one that does not)
is a null reply here too; every other failure goes through the error table.
Expiry and listing are refused with a clear error until the service has them.
"""

from __future__ import annotations

from kv.domain import Condition, JsonValue, KeyExists, KeyNotFound, PreconditionFailed
from kv.transports.resp.errors import CommandError
from kv.transports.resp.replies import OK, Reply
from kv.transports.resp.session import Arguments, Command, Session
from kv.transports.resp.values import as_redis_value, key_of, text_of

# SET ... GET reads the old value and writes only if it is still the one
# read; a write in between makes it read again, at most this many times.
SET_GET_ATTEMPTS = 16

EXPIRY_OPTIONS = frozenset({b"EX", b"PX", b"EXAT", b"PXAT", b"KEEPTTL"})
NO_EXPIRY = (
    "keys do not expire yet: EX, PX, EXAT, PXAT, KEEPTTL, EXPIRE, TTL, PTTL and PERSIST "
    "arrive with expiry support"
)
NO_LISTING = "SCAN is not supported yet: listing keys arrives with list support"


async def get(session: Session, args: Arguments) -> Reply:
    try:
        entry = await session.service.get(key_of(args[0]))
    except KeyNotFound:
        return None
    return as_redis_value(entry.value)


async def mget(session: Session, args: Arguments) -> Reply:
    return [await get(session, [word]) for word in args]


async def getdel(session: Session, args: Arguments) -> Reply:
    try:
        entry = await session.service.delete(key_of(args[0]))
    except KeyNotFound:
        return None
    return as_redis_value(entry.value)


async def delete(session: Session, args: Arguments) -> Reply:
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


async def set_(session: Session, args: Arguments) -> Reply:
    key, value = key_of(args[0]), text_of(args[1])
    options = {word.upper() for word in args[2:]}
    if options & EXPIRY_OPTIONS:
        raise CommandError(NO_EXPIRY)
    unknown = options - {b"NX", b"XX", b"GET"}
    if unknown or len(options) != len(args) - 2 or {b"NX", b"XX"} <= options:
        raise CommandError("syntax error")
    must_exist = True if b"XX" in options else False if b"NX" in options else None
    if b"GET" in options:
        return await _set_and_get_old(session, key, value, must_exist)
    service = session.service
    try:
        if must_exist is None:
            await service.put(key, value)
        elif must_exist:
            await service.put(key, value, Condition.exists())
        else:
            await service.create(key, value)
    except (KeyExists, PreconditionFailed):
        return None
    return OK


async def _set_and_get_old(
    session: Session, key: str, value: JsonValue, must_exist: bool | None
) -> Reply:
    """SET ... GET: write (if NX/XX allow) and answer the value the key had (null: none)."""
    service = session.service
    for _ in range(SET_GET_ATTEMPTS):
        try:
            old = await service.get(key)
        except KeyNotFound:
            old = None
        if (must_exist is True and old is None) or (must_exist is False and old is not None):
            return None if old is None else as_redis_value(old.value)
        condition = Condition.absent() if old is None else Condition.at_revision(old.revision)
        try:
            await service.put(key, value, condition)
        except PreconditionFailed:
            continue  # written in between: read again
        return None if old is None else as_redis_value(old.value)
    raise CommandError("the key kept changing; try again", code="TRYAGAIN")


async def refuse_expiry(session: Session, args: Arguments) -> Reply:
    raise CommandError(NO_EXPIRY)


async def refuse_listing(session: Session, args: Arguments) -> Reply:
    raise CommandError(NO_LISTING)


KEYSPACE_COMMANDS: dict[bytes, Command] = {
    b"GET": Command(get, 2, ("readonly", "fast"), 1, 1, 1),
    b"MGET": Command(mget, -2, ("readonly", "fast"), 1, -1, 1),
    b"SET": Command(set_, -3, ("write",), 1, 1, 1),
    b"GETDEL": Command(getdel, 2, ("write", "fast"), 1, 1, 1),
    b"DEL": Command(delete, -2, ("write",), 1, -1, 1),
    b"EXISTS": Command(exists, -2, ("readonly", "fast"), 1, -1, 1),
    b"EXPIRE": Command(refuse_expiry, -3, ("write", "fast"), 1, 1, 1),
    b"PEXPIRE": Command(refuse_expiry, -3, ("write", "fast"), 1, 1, 1),
    b"TTL": Command(refuse_expiry, 2, ("readonly", "fast"), 1, 1, 1),
    b"PTTL": Command(refuse_expiry, 2, ("readonly", "fast"), 1, 1, 1),
    b"PERSIST": Command(refuse_expiry, 2, ("write", "fast"), 1, 1, 1),
    b"SCAN": Command(refuse_listing, -2, ("readonly",)),
}
