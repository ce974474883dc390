"""Every domain error the gRPC transport can answer with, mapped to its status code in one place.

`unary_call` and `streaming_call` (`calls.py`) apply this table to whatever a
servicer method raises. Anything not in it is a bug: it is logged with its traceback
and the request id, and answered INTERNAL with nothing of the exception.
"""

from __future__ import annotations

import grpc

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

DOMAIN_ERRORS: dict[type[KVError], grpc.StatusCode] = {
    InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    KeyNotFound: grpc.StatusCode.NOT_FOUND,
    KeyExists: grpc.StatusCode.ALREADY_EXISTS,
    PreconditionFailed: grpc.StatusCode.FAILED_PRECONDITION,
    ValueTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    StorageUnavailable: grpc.StatusCode.UNAVAILABLE,
    OutcomeUnknown: grpc.StatusCode.DEADLINE_EXCEEDED,
    Compacted: grpc.StatusCode.OUT_OF_RANGE,
    TooManyWatches: grpc.StatusCode.UNAVAILABLE,
    WatcherTooSlow: grpc.StatusCode.RESOURCE_EXHAUSTED,
}

INTERNAL_MESSAGE = "internal error; see the server log"

# The codes that say the server failed, not the request (HTTP's 5xx): the
# access log (`KV_ACCESS_LOG=errors`) writes a line for each.
SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)


def status_of(exc: KVError) -> grpc.StatusCode:
    """The status code for a domain error: its row in `DOMAIN_ERRORS` (`closest_row`)."""
    return closest_row(DOMAIN_ERRORS, exc) or grpc.StatusCode.INTERNAL
