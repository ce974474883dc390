"""MULTI, EXEC, DISCARD, WATCH, UNWATCH, and the commands that change several keys at once.

As Redis has them: after MULTI, commands are queued (`+QUEUED`) until EXEC
runs them all, atomically, or DISCARD drops them. A command the queue
refuses (unknown, wrong number of arguments, or one a transaction cannot
hold: only those of `snapshot.SNAPSHOT_COMMANDS` can) makes EXEC answer
`-EXECABORT` and apply nothing. WATCH notes the revision of keys; EXEC then
answers a null array, applying nothing, if any of them changed since.
EXEC, DISCARD and a failed WATCH check forget every watched key.

`atomically` is the one path: it reads every key involved (watched ones
too) in one transaction, runs the commands on that snapshot, and writes what
they changed as ONE transaction of the service guarded by the revisions it
read, so every write takes one revision; if another write got in between,
it runs them again on a new snapshot. MSET, MSETNX, INCR, INCRBY, DECR and
DECRBY take the same path on their own (atomic without MULTI).
"""

from __future__ import annotations

from kv.domain import KeyValueService
from kv.domain.transactions import MAX_OPS
from kv.transports.resp.errors import CommandError
from kv.transports.resp.replies import NULL_ARRAY, OK, QUEUED, Reply, RespError
from kv.transports.resp.session import Arguments, CommandSpec, Session
from kv.transports.resp.snapshot import SNAPSHOT_COMMANDS, Snapshot, keys_of
from kv.transports.resp.values import key_of

# A run whose keys change between its read and its write runs again, at most this many times.
ATTEMPTS = 16
# Commands answered at once inside MULTI, not queued.
NOT_QUEUED = frozenset({b"EXEC", b"DISCARD", b"MULTI", b"WATCH", b"UNWATCH", b"QUIT"})
EXECABORT = RespError("EXECABORT", "Transaction discarded because of previous errors.")
# What one MULTI may hold, so queueing costs the server no more than a transaction's body
# does: as many commands as a branch of ops, and their arguments within the values' limit
# plus room for the keys.
MAX_QUEUED = MAX_OPS
QUEUE_OVERHEAD_BYTES = 64 * 1024


async def atomically(
    service: KeyValueService, requests: list[Arguments], watched: dict[str, int]
) -> Reply:
    """The replies of `requests` run as one atomic step; NULL_ARRAY if a watched key changed."""
    keys = list(dict.fromkeys([*watched, *keys_of(requests)]))
    for _ in range(ATTEMPTS):
        read = await service.txn({"success": [{"op": "get", "key": key} for key in keys]})
        entries = {key: result.entry for key, result in zip(keys, read.results, strict=True)}
        revisions = {key: 0 if entry is None else entry.revision for key, entry in entries.items()}
        if any(revisions[key] != revision for key, revision in watched.items()):
            return NULL_ARRAY
        snapshot = Snapshot(entries, service.ttl_left)
        replies = [snapshot.run(request) for request in requests]
        ops = snapshot.ops()
        if not ops:
            return replies  # read only: the snapshot was one atomic read
        guards = [{"key": key, "revision": revision} for key, revision in revisions.items()]
        written = await service.txn({"compare": guards, "success": ops})
        if written.succeeded:
            return replies
    raise CommandError("the keys kept changing; try again", code="TRYAGAIN")


def queue(session: Session, request: Arguments) -> Reply:
    """Queue a known command (of the right arity) sent after MULTI: `+QUEUED`; CommandError
    when a transaction cannot hold it (EXEC will then abort)."""
    assert session.queued is not None
    name = request[0].upper()
    if name not in SNAPSHOT_COMMANDS:
        session.queue_refused = True
        raise CommandError(f"'{name.decode(errors='replace')}' cannot be used inside MULTI")
    size = sum(map(len, request))
    if len(session.queued) >= MAX_QUEUED:
        session.queue_refused = True
        raise CommandError(f"a transaction holds at most {MAX_QUEUED} commands")
    if session.queued_bytes + size > session.service.max_value_bytes + QUEUE_OVERHEAD_BYTES:
        session.queue_refused = True
        raise CommandError("the commands of a transaction are too large together")
    session.queued.append(request)
    session.queued_bytes += size
    return QUEUED


async def multi(session: Session, args: Arguments) -> Reply:
    if session.queued is not None:
        raise CommandError("MULTI calls can not be nested")
    session.queued, session.queue_refused, session.queued_bytes = [], False, 0
    return OK


async def exec_(session: Session, args: Arguments) -> Reply:
    if session.queued is None:
        raise CommandError("EXEC without MULTI")
    queued, refused, watched = session.queued, session.queue_refused, session.watched
    session.queued, session.queue_refused, session.watched = None, False, {}
    if refused:
        return EXECABORT
    return await atomically(session.service, queued, watched)


async def discard(session: Session, args: Arguments) -> Reply:
    if session.queued is None:
        raise CommandError("DISCARD without MULTI")
    session.queued, session.queue_refused, session.watched = None, False, {}
    return OK


async def watch(session: Session, args: Arguments) -> Reply:
    """Note each key's revision now (0: absent), read in one transaction."""
    if session.queued is not None:
        raise CommandError("WATCH inside MULTI is not allowed")
    keys = [key_of(word) for word in args]
    read = await session.service.txn({"success": [{"op": "get", "key": key} for key in keys]})
    for key, result in zip(keys, read.results, strict=True):
        # The first WATCH of a key counts: a change since then is a change.
        session.watched.setdefault(key, 0 if result.entry is None else result.entry.revision)
    return OK


async def unwatch(session: Session, args: Arguments) -> Reply:
    session.watched = {}
    return OK


async def one_command(session: Session, args: Arguments, name: bytes) -> Reply:
    """Run one command on its own through `atomically`; its error raised as the command's."""
    replies = await atomically(session.service, [[name, *args]], {})
    assert isinstance(replies, list)
    reply: Reply = replies[0]
    if isinstance(reply, RespError):
        raise CommandError(reply.message, code=reply.code)
    return reply


async def mset(session: Session, args: Arguments) -> Reply:
    return await one_command(session, args, b"MSET")


async def msetnx(session: Session, args: Arguments) -> Reply:
    return await one_command(session, args, b"MSETNX")


async def incr(session: Session, args: Arguments) -> Reply:
    return await one_command(session, args, b"INCR")


async def incrby(session: Session, args: Arguments) -> Reply:
    return await one_command(session, args, b"INCRBY")


async def decr(session: Session, args: Arguments) -> Reply:
    return await one_command(session, args, b"DECR")


async def decrby(session: Session, args: Arguments) -> Reply:
    return await one_command(session, args, b"DECRBY")


TRANSACTION_COMMANDS: dict[bytes, CommandSpec] = {
    b"MULTI": CommandSpec(multi, 1, ("fast",)),
    b"EXEC": CommandSpec(exec_, 1, ("slow",)),
    b"DISCARD": CommandSpec(discard, 1, ("fast",)),
    b"WATCH": CommandSpec(watch, -2, ("fast",), 1, -1, 1),
    b"UNWATCH": CommandSpec(unwatch, 1, ("fast",)),
    b"MSET": CommandSpec(mset, -3, ("write",), 1, -1, 2),
    b"MSETNX": CommandSpec(msetnx, -3, ("write",), 1, -1, 2),
    b"INCR": CommandSpec(incr, 2, ("write", "fast"), 1, 1, 1),
    b"DECR": CommandSpec(decr, 2, ("write", "fast"), 1, 1, 1),
    b"INCRBY": CommandSpec(incrby, 3, ("write", "fast"), 1, 1, 1),
    b"DECRBY": CommandSpec(decrby, 3, ("write", "fast"), 1, 1, 1),
}
