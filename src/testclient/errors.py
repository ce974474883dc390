"""The errors a KVClient reports, one tree for every transport (`testclient.client` lists them)."""

from __future__ import annotations


class KVClientError(Exception):
    """Base of every error a KVClient reports."""


class NotFound(KVClientError):
    """The service has no entry at the key."""


class AlreadyExists(KVClientError):
    """A create found an entry at the key."""


class PreconditionFailed(KVClientError):
    """The entry was not at the expected revision (or did not exist)."""


class IdempotencyKeyReused(KVClientError):
    """The idempotency key was sent before with another request: nothing was done."""


class Rejected(KVClientError):
    """The service refused the request: invalid key or body, value too large."""


class Unavailable(KVClientError):
    """The service could not be reached, or answered that it cannot serve now."""


class OutcomeUnknown(KVClientError):
    """The request was sent, and no answer said whether it was applied: the service's
    storage did not confirm in time, or the call's deadline passed. Read before retrying
    a write that is not idempotent."""


class AccessDenied(KVClientError):
    """The service refused the caller: no token or an unknown one, no right to the key,
    or protected mode (a client not on loopback of a server without an auth file)."""


class Compacted(KVClientError):
    """A watch asked to start at a revision the service no longer keeps the changes of."""
