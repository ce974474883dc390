"""The domain's errors: every failure a KV operation can report to a caller.

    KVError
    ├── InvalidRequest        the request itself is wrong (bad key, bad precondition)
    ├── ValueTooLarge         the value is over the size limit
    ├── KeyNotFound           no entry at the key
    ├── KeyExists             create-only write on a key that exists
    ├── PreconditionFailed    the entry is not what the caller said it must be
    ├── IdempotencyKeyReused  an idempotency key already answered another request
    ├── StorageUnavailable    the store cannot be used; nothing was changed
    ├── OutcomeUnknown        the store did not confirm a write; it may or may not be applied
    ├── Compacted             a watch asked for changes older than the history the store keeps
    ├── WatcherTooSlow        a watcher fell too far behind the changes and was cut off
    ├── TooManyWatches        the service already has its limit of watches open
    └── AccessRefused         access control turned the request away (domain/access.py)
        ├── Unauthenticated   no credentials where a token is required
        │   └── BadCredentials    a token no principal has
        ├── PermissionDenied  the caller's rules do not cover the key or prefix
        └── ProtectedMode     no auth file, and the client is not on loopback

Transports map these to their protocol in one table each (HTTP status and
error code; gRPC status code). Anything else that escapes is a bug and is
reported as an internal error without details.
"""

from __future__ import annotations


class KVError(Exception):
    """Base class of every error the domain reports on purpose."""


class InvalidRequest(KVError):
    """The request cannot be served as sent: an empty or too long key, a bad revision."""


class ValueTooLarge(KVError):
    """The value, as compact JSON, is larger than the configured limit."""


class KeyNotFound(KVError):
    """There is no entry at the key."""


class KeyExists(KVError):
    """A create-only write found an entry at the key."""


class PreconditionFailed(KVError):
    """A conditional write found the entry in another state than the one required."""


class IdempotencyKeyReused(KVError):
    """A write's idempotency key was first used for another request (method, key or body).

    Nothing was done: the key belongs to that first request until it expires.
    """


class StorageUnavailable(KVError):
    """The store could not be read or written; a write that reports this was not applied."""


class OutcomeUnknown(KVError):
    """A write was sent to the store but not confirmed: it may or may not have been applied.

    A deadline passed, a connection was lost or a leader changed after the
    write left for the store. Unlike StorageUnavailable, the caller must not
    assume nothing changed: read the key (or retry with a condition) to find out.
    """


class Compacted(KVError):
    """A watch asked to start at a revision whose changes the store no longer keeps.

    `oldest`: the oldest revision a watch can still start from (every change
    from it on is kept). The caller must read the current state again (a
    listing) and watch from its revision.
    """

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(
            f"revision {requested} is compacted; the oldest revision available is {oldest}"
        )
        self.requested = requested
        self.oldest = oldest


class WatcherTooSlow(KVError):
    """A watcher fell further behind the changes than the store keeps for it: it was ended.

    It resumes from the revision after the last change it received, while
    the history still holds it (else the resume is Compacted).
    """


class TooManyWatches(KVError):
    """The service already has as many watches open as it allows: this one was not opened.

    Nothing was done; the caller may retry shortly (a watch ends when its
    client leaves, or is cut off as too slow). The limit bounds what
    watchers cost the server (a socket and its buffers each), whatever the
    number of clients (`KV_MAX_WATCHERS`).
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"server busy: {limit} watches open; retry shortly")
        self.limit = limit


class AccessRefused(KVError):
    """Access control turned the request away; nothing was read or changed.

    `principal`: the caller's name when it is known, `operation` (read or
    write) and `key` (a key or a prefix) when the refusal is about one. No
    token is ever part of the error.
    """

    principal: str | None = None
    operation: str | None = None
    key: str | None = None


class Unauthenticated(AccessRefused):
    """A token is required (an auth file is in use) and the request carries none."""


class BadCredentials(Unauthenticated):
    """The request carries a token that no principal has (or a name not its principal's)."""


class PermissionDenied(AccessRefused):
    """The caller is known, but none of its rules covers the key or prefix for the operation."""

    def __init__(self, principal: str, operation: str, key: str) -> None:
        super().__init__(f"principal {principal!r} may not {operation} {key!r}")
        self.principal = principal
        self.operation = operation
        self.key = key


class ProtectedMode(AccessRefused):
    """No auth file, protected mode on, and the client does not connect from loopback."""
