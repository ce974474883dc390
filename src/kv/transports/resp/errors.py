"""Every error the RESP transport answers with, mapped in one place.

An error reply is `-CODE message`; clients branch on the code, its first
word. Domain errors map through `DOMAIN_ERRORS`; failures of the protocol
itself (unknown command, wrong number of arguments, bad syntax) are
`CommandError`s raised by the command layer and answered with their own code
(`ERR` unless they say otherwise). Anything else is a bug: logged with its
traceback and answered `-ERR internal error` with nothing of the exception.

    code            meaning                                    from
    ERR             the request is wrong (syntax, arity, key,  InvalidRequest, ValueTooLarge
                    value)
    NOTFOUND        no entry at the key (KV.* commands only)   KeyNotFound
    EXISTS          create-only write found the key            KeyExists
    CONFLICT        the entry is not at the revision required  PreconditionFailed
    TRYAGAIN        storage unavailable; nothing changed       StorageUnavailable
    OUTCOMEUNKNOWN  not confirmed in time; it may or may not   OutcomeUnknown
                    have been applied: read before retrying

The Redis commands (GET, SET NX, ...) answer "no such key" and "condition
not met" with a null reply as Redis does; only the `KV.*` commands, which
carry revisions, answer them with NOTFOUND and CONFLICT.
"""

from __future__ import annotations

from kv.domain import (
    Compacted,
    InvalidRequest,
    KeyExists,
    KeyNotFound,
    KVError,
    OutcomeUnknown,
    PreconditionFailed,
    StorageUnavailable,
    TooManyWatches,
    ValueTooLarge,
    WatcherTooSlow,
)
from kv.transports.error_tables import closest_row
from kv.transports.resp.replies import RespError

DOMAIN_ERRORS: dict[type[KVError], str] = {
    InvalidRequest: "ERR",
    ValueTooLarge: "ERR",
    KeyNotFound: "NOTFOUND",
    KeyExists: "EXISTS",
    PreconditionFailed: "CONFLICT",
    StorageUnavailable: "TRYAGAIN",
    OutcomeUnknown: "OUTCOMEUNKNOWN",
    # Raised only by watches, which RESP does not serve; mapped so that every
    # domain error has a row (tests/unit/test_error_tables.py).
    Compacted: "ERR",
    TooManyWatches: "TRYAGAIN",
    WatcherTooSlow: "TRYAGAIN",
}

# The codes that say the server failed, not the request (HTTP's 5xx; with
# INTERNAL): the access log (`KV_ACCESS_LOG=errors`) writes a line for each.
SERVER_ERRORS = frozenset({"TRYAGAIN", "OUTCOMEUNKNOWN"})

INTERNAL = RespError("ERR", "internal error; see the server log")


class CommandError(Exception):
    """A request the protocol layer refuses: unknown command, bad arity, bad syntax."""

    def __init__(self, message: str, code: str = "ERR") -> None:
        super().__init__(message)
        self.code = code


def domain_error_reply(exc: KVError) -> RespError:
    """The reply for a domain error: its row in `DOMAIN_ERRORS` (`closest_row`)."""
    code = closest_row(DOMAIN_ERRORS, exc)
    return INTERNAL if code is None else RespError(code, str(exc))


def command_error_reply(exc: CommandError) -> RespError:
    return RespError(exc.code, str(exc))
