"""The command table, and running one request through it.

`COMMANDS` maps a command's name (upper case) to its `Command`: adding a
command is one handler and one entry in the table of its module. `execute`
checks the name and the arity, runs the handler, answers every error through
the one table in `errors.py`, and writes the request's access line.
"""

from __future__ import annotations

import logging
import time

from kv.domain import KVError
from kv.logs import accept_request_id, log_request, request_id
from kv.transports.resp.errors import (
    INTERNAL,
    CommandError,
    command_error_reply,
    domain_error_reply,
)
from kv.transports.resp.expiry import EXPIRY_COMMANDS
from kv.transports.resp.keyspace import KEYSPACE_COMMANDS
from kv.transports.resp.kv_commands import KV_COMMANDS
from kv.transports.resp.replies import Reply, RespError
from kv.transports.resp.server_commands import SERVER_COMMANDS
from kv.transports.resp.session import Command, Session

log = logging.getLogger("kv.resp")
access_log = logging.getLogger("kv.access")

COMMANDS: dict[bytes, Command] = {
    **SERVER_COMMANDS,
    **KEYSPACE_COMMANDS,
    **EXPIRY_COMMANDS,
    **KV_COMMANDS,
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


async def execute(session: Session, request: list[bytes]) -> Reply:
    """Run one request (its words, name first) and return the reply; never raises."""
    started = time.perf_counter()
    rid = accept_request_id(None)
    request_id.set(rid)
    name = request[0].upper()
    command = session.commands.get(name)
    reply: Reply
    if command is None or not command.accepts(len(request)):
        reply = _refusal(request)
    else:
        try:
            reply = await command.handler(session, request[1:])
        except KVError as exc:
            reply = domain_error_reply(exc)
        except CommandError as exc:
            reply = command_error_reply(exc)
        except Exception:
            log.exception("unhandled error serving %s", _text(name), extra={"request_id": rid})
            reply = INTERNAL
    log_request(
        access_log,
        "request",
        transport="resp",
        request_id=rid,
        method=_text(name)[:64],
        status=reply.code if isinstance(reply, RespError) else "OK",
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        remote=session.remote,
    )
    return reply
