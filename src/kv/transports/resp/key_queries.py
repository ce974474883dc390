"""KEYS, DBSIZE and TYPE: what a Redis user asks about the keys, answered from listings.

`KEYS prefix*` takes the patterns SCAN's MATCH takes (a prefix and one `*`)
and answers at most MAX_KEYS keys: more is an error that says to SCAN, so one
command never reads the whole store into one reply. `DBSIZE` counts every
key, a page of the listing at a time (its cost grows with the store; Redis
keeps a counter). `TYPE` is `string` for any key (every value reads as a
string) and `none` for a key with no entry.
"""

from __future__ import annotations

from kv.domain import KeyNotFound
from kv.domain.cursors import MAX_LIMIT
from kv.transports.resp.errors import CommandError
from kv.transports.resp.keyspace import prefix_of
from kv.transports.resp.replies import Reply, Status
from kv.transports.resp.session import Arguments, CommandSpec, Session
from kv.transports.resp.values import key_of

MAX_KEYS = 1000


async def keys(session: Session, args: Arguments) -> Reply:
    page = await session.service.list(prefix_of(args[0]), limit=MAX_KEYS, keys_only=True)
    if page.next_cursor is not None:
        raise CommandError(
            f"more than {MAX_KEYS} keys match; use SCAN to read them a page at a time"
        )
    return [entry.key for entry in page.entries]


async def dbsize(session: Session, args: Arguments) -> Reply:
    count, cursor = 0, None
    while True:
        page = await session.service.list("", limit=MAX_LIMIT, cursor=cursor, keys_only=True)
        count += len(page.entries)
        if page.next_cursor is None:
            return count
        cursor = page.next_cursor


async def type_(session: Session, args: Arguments) -> Reply:
    try:
        await session.service.get(key_of(args[0]))
    except KeyNotFound:
        return Status("none")
    return Status("string")


KEY_QUERY_COMMANDS: dict[bytes, CommandSpec] = {
    b"KEYS": CommandSpec(keys, 2, ("readonly",)),
    b"DBSIZE": CommandSpec(dbsize, 1, ("readonly", "fast")),
    b"TYPE": CommandSpec(type_, 2, ("readonly", "fast"), 1, 1, 1),
}
