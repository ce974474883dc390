"""How the HTTP client reads the REST API's answers.

Statuses, and failures before any answer, become the client's errors (one
table each); JSON documents become entries and events.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from testclient.client import (
    AccessDenied,
    AlreadyExists,
    Compacted,
    IdempotencyKeyReused,
    KVClientError,
    KVEntry,
    KVEvent,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    Rejected,
    Unavailable,
)
from testclient.sse import ServerSentEvent

# The one place HTTP statuses, and failures before any answer, become the client's errors.
STATUS_ERRORS: dict[int, type[KVClientError]] = {
    400: Rejected,
    401: AccessDenied,
    403: AccessDenied,
    404: NotFound,
    409: AlreadyExists,
    410: Compacted,
    412: PreconditionFailed,
    413: Rejected,
    415: Rejected,
    422: IdempotencyKeyReused,
    503: Unavailable,
    504: OutcomeUnknown,
}
# First match wins. A connection that could not be made sent nothing; a call
# that ran out of time after connecting may have been applied, as gRPC's
# DEADLINE_EXCEEDED; a connection lost is UNAVAILABLE to gRPC, so here too.
FAILURE_ERRORS: tuple[tuple[type[BaseException], type[KVClientError]], ...] = (
    (aiohttp.ConnectionTimeoutError, Unavailable),
    (TimeoutError, OutcomeUnknown),
    (aiohttp.ClientError, Unavailable),
    (ConnectionError, Unavailable),
)


def request_body(value: Any, ttl: int | None) -> dict[str, Any]:
    """The JSON body of a put or create."""
    return {"value": value} if ttl is None else {"value": value, "ttl": ttl}


def entry_of(document: dict[str, Any]) -> KVEntry:
    """The entry an answer carries."""
    ttl = document.get("ttl")
    return KVEntry(
        str(document["key"]),
        document["value"],
        int(document["revision"]),
        None if ttl is None else int(ttl),
    )


KEYS_ONLY_FIELDS = {"key", "revision"}


def listed_entry(document: dict[str, Any], *, keys_only: bool) -> KVEntry:
    """An entry of a page; a keys-only entry must carry the key and revision and nothing else."""
    if not keys_only:
        return entry_of(document)
    if set(document) != KEYS_ONLY_FIELDS:
        raise ValueError(f"a keys_only entry has fields {sorted(document)}, not key and revision")
    return KVEntry(str(document["key"]), None, int(document["revision"]))


def event_of(event: ServerSentEvent, what: str) -> KVEvent:
    """The change a Server-Sent Event reports; its id must be the revision in its data."""
    document = json.loads(event.data)
    revision = int(document["revision"])
    if event.id != str(revision) or event.event not in ("put", "delete"):
        raise ValueError(f"event {event.event!r} id {event.id!r} for revision {revision}")
    ttl = document.get("ttl")
    return KVEvent(
        event.event,
        str(document["key"]),
        revision,
        document.get("value"),
        bool(document.get("expired", False)),
        None if ttl is None else int(ttl),
    )
