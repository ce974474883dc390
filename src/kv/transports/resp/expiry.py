"""Expiry over RESP: SET's EX/PX/KEEPTTL, and EXPIRE, PEXPIRE, TTL, PTTL, PERSIST.

kv keeps expiry in whole seconds (1 to 31,536,000): milliseconds (PX,
PEXPIRE) are rounded up to whole seconds, and PTTL answers TTL times 1000.
Commands that change an entry's expiry but not its value read the entry
and write it back only if it is still at the revision read (a write in
between makes them read again), so they never undo another client's write.
EXAT, PXAT and EXPIRE's NX/XX/GT/LT are refused as a syntax error.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from kv.domain import Condition, Entry, KeyNotFound, KeyValueService, PreconditionFailed
from kv.transports.resp.errors import CommandError
from kv.transports.resp.replies import Reply
from kv.transports.resp.session import Arguments, CommandSpec, Session
from kv.transports.resp.values import key_of

# How often a read-then-write command reads again after a write in between.
ATTEMPTS = 16


def whole_number(word: bytes) -> int:
    try:
        return int(word)
    except ValueError:
        raise CommandError("value is not an integer or out of range") from None


def seconds_of(word: bytes, unit: bytes) -> int:
    """The ttl in seconds after EX (seconds) or PX (milliseconds, rounded up)."""
    number = whole_number(word)
    if number <= 0:
        raise CommandError("invalid expire time in 'set' command")
    return number if unit == b"EX" else math.ceil(number / 1000)


async def rewrite(
    service: KeyValueService,
    key: str,
    ttl: int | None,
    *,
    when: Callable[[Entry], bool] = lambda entry: True,
) -> int:
    """Write the entry at `key` again with `ttl` (None: no expiry), if `when(entry)` holds.

    Answers 1 when written, 0 when there is no entry or `when` says no.
    """
    for _ in range(ATTEMPTS):
        try:
            entry = await service.get(key)
        except KeyNotFound:
            return 0
        if not when(entry):
            return 0
        try:
            await service.put(key, entry.value, Condition.at_revision(entry.revision), ttl=ttl)
        except (PreconditionFailed, KeyNotFound):
            continue
        return 1
    raise CommandError("the key kept changing; try again", code="TRYAGAIN")


async def _expire(session: Session, args: Arguments, seconds: int) -> Reply:
    if len(args) > 2:
        raise CommandError("EXPIRE options NX, XX, GT and LT are not supported")
    key = key_of(args[0])
    if seconds <= 0:  # as Redis: an expiry in the past deletes the key
        try:
            await session.service.delete(key)
        except KeyNotFound:
            return 0
        return 1
    return await rewrite(session.service, key, seconds)


async def expire(session: Session, args: Arguments) -> Reply:
    return await _expire(session, args, whole_number(args[1]))


async def pexpire(session: Session, args: Arguments) -> Reply:
    return await _expire(session, args, math.ceil(whole_number(args[1]) / 1000))


async def ttl(session: Session, args: Arguments) -> Reply:
    """Seconds left, rounded up; -1: the key does not expire; -2: no such key."""
    try:
        entry = await session.service.get(key_of(args[0]))
    except KeyNotFound:
        return -2
    left = session.service.ttl_left(entry)
    return -1 if left is None else left


async def pttl(session: Session, args: Arguments) -> Reply:
    left = await ttl(session, args)
    assert isinstance(left, int)
    return left if left < 0 else left * 1000


async def persist(session: Session, args: Arguments) -> Reply:
    service = session.service
    return await rewrite(
        service, key_of(args[0]), None, when=lambda entry: service.ttl_left(entry) is not None
    )


EXPIRY_COMMANDS: dict[bytes, CommandSpec] = {
    b"EXPIRE": CommandSpec(expire, -3, ("write", "fast"), 1, 1, 1),
    b"PEXPIRE": CommandSpec(pexpire, -3, ("write", "fast"), 1, 1, 1),
    b"TTL": CommandSpec(ttl, 2, ("readonly", "fast"), 1, 1, 1),
    b"PTTL": CommandSpec(pttl, 2, ("readonly", "fast"), 1, 1, 1),
    b"PERSIST": CommandSpec(persist, 2, ("write", "fast"), 1, 1, 1),
}
