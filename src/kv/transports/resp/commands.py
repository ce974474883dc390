"""The command table, and running one request through it.

`COMMANDS` maps a command's name (upper case) to its `CommandSpec`: adding a
command is one handler and one entry in the table of its module. `execute`
checks the name and the arity, runs the handler and answers every error
through the one table in `errors.py`, all in the request's scope (request id,
metrics, access line: `kv.observability.scope`).
"""

from __future__ import annotations

from kv.domain import KVError
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
from kv.transports.resp.session import CommandSpec, Session
from kv.transports.resp.transactions import NOT_QUEUED, TRANSACTION_COMMANDS, queue

COMMANDS: dict[bytes, CommandSpec] = {
    **SERVER_COMMANDS,
    **KEYSPACE_COMMANDS,
    **KEY_QUERY_COMMANDS,
    **EXPIRY_COMMANDS,
    **KV_COMMANDS,
    **TRANSACTION_COMMANDS,
}

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
        else:
            try:
                if session.queued is not None and name not in NOT_QUEUED:
                    reply = queue(session, request)
                else:
                    reply = await command.handler(session, request[1:])
            except KVError as exc:
                reply = domain_error_reply(exc)
            except CommandError as exc:
                reply = command_error_reply(exc)
            except Exception:
                scope.unexpected_error()
                reply = INTERNAL
        if isinstance(reply, RespError):
            scope.answered(
                reply.code,
                server_error=reply is INTERNAL or reply is busy or reply.code in SERVER_ERRORS,
            )
        else:
            scope.answered("OK")
    return reply
