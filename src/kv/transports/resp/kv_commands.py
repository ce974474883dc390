"""The `KV.*` commands: the KV API with JSON values, revisions and conditions, over RESP.

    KV.GET key                          -> entry (NOTFOUND when none)
    KV.PUT key json [IFREV r | IFABSENT | IFEXISTS] [TTL s]
                                        -> entry and created (CONFLICT when not met)
    KV.CREATE key json [TTL s]          -> entry (EXISTS when the key has one)
    KV.DELETE key [IFREV r]             -> the deleted entry (NOTFOUND, CONFLICT)
    KV.LIST prefix [LIMIT n] [CURSOR c] [KEYSONLY]
                                        -> a page: entries, next_cursor (null: last), revision
    KV.TXN json                         -> the answer of `POST /v1/txn`, as JSON text

An entry is a map (RESP3) or flat array (RESP2) of `key`, `value` (the
value's compact JSON text), `revision`, and `ttl` (seconds left) when it
expires; errors come from the one table in `errors.py`. A KV.LIST page is a
map (or flat array) of `entries` (entries as above; with KEYSONLY only `key`
and `revision`), `next_cursor` (the service's opaque cursor, null on the last
page) and `revision`, as `GET /v1/kv` answers. These are what the test
client's RespKVClient speaks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kv.domain import Condition, KVError, Written
from kv.json_codec import write_json
from kv.transports.resp.errors import CommandError
from kv.transports.resp.expiry import whole_number
from kv.transports.resp.replies import Reply
from kv.transports.resp.session import Arguments, Batched, CommandSpec, Deferred, Session
from kv.transports.resp.values import entry_reply, json_of, key_of, revision_of
from kv.transports.txn_answers import txn_document

DEFAULT_LIST_LIMIT = 100


def _condition(args: Arguments, *, allow_presence: bool) -> Condition | None:
    """The condition words after the value: none, `IFREV r`, or (for KV.PUT) IFABSENT/IFEXISTS."""
    if not args:
        return None
    option = args[0].upper()
    if option == b"IFREV" and len(args) == 2:
        return Condition.at_revision(revision_of(args[1]))
    if allow_presence and len(args) == 1 and option == b"IFABSENT":
        return Condition.absent()
    if allow_presence and len(args) == 1 and option == b"IFEXISTS":
        return Condition.exists()
    raise CommandError("syntax error")


def _ttl(args: Arguments) -> tuple[int | None, Arguments]:
    """`TTL s` at the end of the words, if there (the domain checks its range); the rest."""
    if len(args) >= 2 and args[-2].upper() == b"TTL":
        return whole_number(args[-1]), args[:-2]
    return None, args


async def kv_get(session: Session, args: Arguments) -> Reply:
    return entry_reply(session.service, await session.service.get(key_of(args[0])))


def plan_kv_put(session: Session, args: Arguments) -> Deferred:
    key, value = key_of(args[0]), json_of(args[1])
    ttl, rest = _ttl(args[2:])
    condition = _condition(rest, allow_presence=True)
    planned = session.service.plan_put(key, value, condition, ttl=ttl)
    return Deferred((planned,), _entry_answer(session, "entry", created=True))


def plan_kv_create(session: Session, args: Arguments) -> Deferred:
    ttl, rest = _ttl(args[2:])
    if rest:
        raise CommandError("syntax error")
    planned = session.service.plan_create(key_of(args[0]), json_of(args[1]), ttl=ttl)
    return Deferred((planned,), _entry_answer(session, "entry"))


def plan_kv_delete(session: Session, args: Arguments) -> Deferred:
    key = key_of(args[0])
    planned = session.service.plan_delete(key, _condition(args[1:], allow_presence=False))
    return Deferred((planned,), _entry_answer(session, "previous"))


def _entry_answer(
    session: Session, shown: str, *, created: bool = False
) -> Callable[[Sequence[Written | KVError]], Reply]:
    """The answer of a KV.* write: the entry after it (`entry`) or before it (`previous`)."""

    def answer(results: Sequence[Written | KVError]) -> Reply:
        (result,) = results
        if isinstance(result, KVError):
            raise result
        entry = result.entry if shown == "entry" else result.previous
        assert entry is not None
        was_created = result.previous is None if created else None
        return entry_reply(session.service, entry, created=was_created)

    return answer


async def kv_put(session: Session, args: Arguments) -> Reply:
    return await plan_kv_put(session, args).run(session.service)


async def kv_create(session: Session, args: Arguments) -> Reply:
    return await plan_kv_create(session, args).run(session.service)


async def kv_delete(session: Session, args: Arguments) -> Reply:
    return await plan_kv_delete(session, args).run(session.service)


async def kv_list(session: Session, args: Arguments) -> Reply:
    prefix = key_of(args[0]) if args[0] else ""
    limit, cursor, keys_only = DEFAULT_LIST_LIMIT, None, False
    words = args[1:]
    while words:
        option = words[0].upper()
        if option == b"KEYSONLY":
            keys_only, words = True, words[1:]
        elif option in (b"LIMIT", b"CURSOR") and len(words) >= 2:
            if option == b"LIMIT":
                limit = whole_number(words[1])
            else:
                # Not UTF-8: not a cursor the service made, which it then refuses.
                cursor = words[1].decode("utf-8", "replace")
            words = words[2:]
        else:
            raise CommandError("syntax error")
    page = await session.service.list(prefix, limit=limit, cursor=cursor, keys_only=keys_only)
    entries: list[Reply] = [
        {"key": entry.key, "revision": entry.revision}
        if keys_only
        else entry_reply(session.service, entry)
        for entry in page.entries
    ]
    return {"entries": entries, "next_cursor": page.next_cursor, "revision": page.revision}


async def kv_txn(session: Session, args: Arguments) -> Reply:
    """A transaction, its request and answer as `POST /v1/txn` has them (JSON text)."""
    service = session.service
    outcome = await service.txn(json_of(args[0]))
    return write_json(txn_document(outcome, service.ttl_left))


KV_COMMANDS: dict[bytes, CommandSpec] = {
    b"KV.GET": CommandSpec(kv_get, 2, ("readonly", "fast"), 1, 1, 1),
    b"KV.PUT": CommandSpec(kv_put, -3, ("write",), 1, 1, 1, Batched(plan_kv_put)),
    b"KV.CREATE": CommandSpec(kv_create, -3, ("write",), 1, 1, 1, Batched(plan_kv_create)),
    b"KV.DELETE": CommandSpec(kv_delete, -2, ("write",), 1, 1, 1, Batched(plan_kv_delete)),
    b"KV.LIST": CommandSpec(kv_list, -2, ("readonly",)),
    b"KV.TXN": CommandSpec(kv_txn, 2, ("write",)),
}
