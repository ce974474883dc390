"""The command table, and running one request through it.

`COMMANDS` maps a command's name (upper case) to its `CommandSpec`: adding a
command is one handler and one entry in the table of its module. `execute`
checks the name and the arity, runs the handler and answers every error
through the one table in `errors.py`, all in the request's scope (request id,
metrics, access line: `kv.observability.scope`).

It is also the transport's access-control choke point: a connection that
has not authenticated may run only the commands flagged `no-auth`; every
other command runs as the connection's principal, and a command on several
keys is checked for all of them before it starts (as Redis's ACLs do), so
that it is refused whole rather than done in part.
"""

from __future__ import annotations

from collections.abc import Sequence

from kv.domain import Access, AccessRefused, KVError, PlannedWrite, Unauthenticated
from kv.domain.access import TOKEN_REQUIRED
from kv.observability import RequestScope
from kv.transports.resp.auth_commands import AUTH_COMMANDS
from kv.transports.resp.errors import (
    INTERNAL,
    SERVER_ERRORS,
    CommandError,
    command_error_reply,
    domain_error_reply,
)
from kv.transports.resp.expiry import EXPIRY_COMMANDS
from kv.transports.resp.key_queries import KEY_QUERY_COMMANDS
from kv.transports.resp.keyspace import KEYSPACE_COMMANDS
from kv.transports.resp.kv_commands import KV_COMMANDS
from kv.transports.resp.replies import Reply, RespError
from kv.transports.resp.server_commands import SERVER_COMMANDS
from kv.transports.resp.session import Arguments, CommandSpec, Deferred, Session
from kv.transports.resp.transactions import NOT_QUEUED, TRANSACTION_COMMANDS, queue

COMMANDS: dict[bytes, CommandSpec] = {
    **SERVER_COMMANDS,
    **KEYSPACE_COMMANDS,
    **KEY_QUERY_COMMANDS,
    **EXPIRY_COMMANDS,
    **KV_COMMANDS,
    **TRANSACTION_COMMANDS,
    **AUTH_COMMANDS,
}
NO_AUTH = "no-auth"

# How many arguments an "unknown command" error quotes, as Redis does.
QUOTED_ARGUMENTS = 3


def _text(word: bytes) -> str:
    return word.decode("utf-8", "replace")


def _refusal(request: list[bytes]) -> RespError:
    """The error for a request whose name or number of arguments is not in the table."""
    name = request[0]
    if name.upper() in COMMANDS:
        return RespError("ERR", f"wrong number of arguments for '{_text(name).lower()}' command")
    quoted = " ".join(f"'{_text(word)[:64]}'" for word in request[1 : 1 + QUOTED_ARGUMENTS])
    return RespError(
        "ERR", f"unknown command '{_text(name)[:64]}', with args beginning with: {quoted}"
    )


def _keys_used(command: CommandSpec, args: Arguments) -> list[tuple[Access, str]]:
    """What a command on several keys does to each (its key spec); [] for one key or none."""
    if command.last_key == command.first_key or not command.first_key:
        return []
    access = Access.WRITE if "write" in command.flags else Access.READ
    last = len(args) if command.last_key < 0 else command.last_key
    words = args[command.first_key - 1 : last : command.key_step]
    return [(access, word.decode("utf-8", "replace")) for word in words]


async def _run(session: Session, command: CommandSpec, args: Arguments) -> Reply:
    """Run an admitted command as the connection's principal."""
    if not session.authenticated and NO_AUTH not in command.flags:
        raise Unauthenticated(TOKEN_REQUIRED)
    guard = session.service.guard
    with guard.acting_as(session.principal):
        guard.require_all(_keys_used(command, args))
        return await command.handler(session, args)


def _plan(session: Session, command: CommandSpec, args: Arguments) -> Deferred:
    """Plan a batched command (as the connection's principal), checked as `_run` checks it."""
    assert command.batched is not None
    session.service.guard.require_all(_keys_used(command, args))
    return command.batched.plan(session, args)


# Answered even while the server refuses new work (`busy`): tiny, and what a
# health check or a client leaving sends.
ALWAYS_ANSWERED = frozenset({b"PING", b"QUIT"})


async def execute(session: Session, request: list[bytes], busy: RespError | None = None) -> Reply:
    """Run one request (its words, name first) and return the reply; never raises.

    `busy`: the server has no room for answers now; the request is answered
    with it instead of being run (unless it is in ALWAYS_ANSWERED).
    """
    name = request[0].upper()
    command = session.commands.get(name)
    # A metric label: only the table's names, so that clients cannot add series.
    operation = _text(name) if command is not None else "unknown"
    reply: Reply
    with session.observability.request_scope(
        "resp", operation, None, remote=session.remote
    ) as scope:
        if command is None or not command.accepts(len(request)):
            reply = _refusal(request)
            if session.queued is not None:  # inside MULTI: EXEC will abort
                session.queue_refused = True
        elif busy is not None and name not in ALWAYS_ANSWERED:
            reply = busy
            if session.queued is not None and name not in NOT_QUEUED:
                session.queue_refused = True  # not queued: EXEC must not run the rest
        else:
            try:
                if session.queued is not None and name not in NOT_QUEUED:
                    reply = queue(session, request)
                else:
                    reply = await _run(session, command, request[1:])
            except Exception as exc:
                reply = _failed(scope, exc)
        _answered(scope, reply, busy)
    return reply


def batchable(session: Session, request: list[bytes]) -> bool:
    """Whether `request` is a plain write that `execute_batch` may run with its neighbours.

    Only on an authenticated connection outside MULTI: what it answers then
    depends on nothing but the store, and it changes nothing of the session.
    """
    if session.queued is not None or not session.authenticated:
        return False
    command = session.commands.get(request[0].upper())
    return (
        command is not None
        and command.batched is not None
        and command.accepts(len(request))
        and command.batched.applies(request[1:])
    )


async def execute_batch(
    session: Session, requests: Sequence[list[bytes]], busy: RespError | None = None
) -> list[Reply]:
    """Run consecutive `batchable` requests, answering each as `execute` would have, in order.

    Each is planned in its own request scope, as its principal, checked as
    `execute` checks it; every write planned is then applied in ONE
    `write_batch`, and each request answered from its own results. A request
    refused while planning gets its own error and the others still apply.
    """
    # No command of a batch changes the session: one principal for all of them.
    observability, remote = session.observability, session.remote
    planned: list[tuple[RequestScope, Deferred | Reply]] = []
    escaped: BaseException | None = None
    try:
        with session.service.guard.acting_as(session.principal):
            writes: list[PlannedWrite] = []
            for request in requests:
                name = request[0].upper()
                command = session.commands[name]
                # Entered here, left once answered (in the `finally` below).
                scope = observability.request_scope("resp", _text(name), None, remote=remote)
                scope.__enter__()
                step: Deferred | Reply
                if busy is not None:
                    step = busy
                else:
                    try:
                        step = _plan(session, command, request[1:])
                    except Exception as exc:
                        step = _failed(scope, exc)
                    else:
                        writes += step.writes
                planned.append((scope, step))
            results = await session.service.write_batch(writes) if writes else []
        replies: list[Reply] = []
        taken = 0
        for scope, step in planned:
            if isinstance(step, Deferred):
                count = len(step.writes)
                try:
                    reply = step.answer(results[taken : taken + count])
                except Exception as exc:
                    reply = _failed(scope, exc)
                taken += count
            else:
                reply = step
            _answered(scope, reply, busy)
            replies.append(reply)
        return replies
    except BaseException as exc:  # a bug, a cancellation: every scope not answered records it
        escaped = exc
        raise
    finally:
        for scope, _ in reversed(planned):  # last in, first out, as nested scopes leave
            scope.__exit__(type(escaped) if escaped else None, escaped, None)


def _failed(scope: RequestScope, exc: Exception) -> Reply:
    """The reply for a command that raised `exc`, through the one error table."""
    if isinstance(exc, KVError):
        if isinstance(exc, AccessRefused):
            scope.refused(exc)
        return domain_error_reply(exc)
    if isinstance(exc, CommandError):
        return command_error_reply(exc)
    scope.unexpected_error()  # called while `exc` is being handled: logged with it
    return INTERNAL


def _answered(scope: RequestScope, reply: Reply, busy: RespError | None) -> None:
    if isinstance(reply, RespError):
        scope.answered(
            reply.code,
            server_error=reply is INTERNAL or reply is busy or reply.code in SERVER_ERRORS,
        )
    else:
        scope.answered("OK")
