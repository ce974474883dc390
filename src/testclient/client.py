"""KVClient: the port through which scenarios and the `kv` CLI talk to a KV service.

It speaks only in the client's own terms: `KVEntry` and the errors below.
Each implementation converts its protocol's errors into these in one place,
so code written against KVClient cannot tell HTTP from gRPC.

    KVClientError
    ├── NotFound            no entry at the key
    ├── AlreadyExists       create on a key that exists
    ├── PreconditionFailed  expected revision not met
    ├── IdempotencyKeyReused  an idempotency key sent with another request before
    │                       (HTTP 422 `idempotency_key_reused`)
    ├── Rejected            the service refused the request as invalid (bad key, too large)
    ├── Unavailable         the service cannot be reached, or its storage is down: nothing changed
    ├── OutcomeUnknown      the write was sent but not confirmed in time: it may or may not
    │                       have been applied (HTTP 504 `outcome_unknown`, gRPC
    │                       DEADLINE_EXCEEDED, or the call's own deadline passed)
    └── Compacted           a watch asked for changes older than the service keeps
                            (HTTP 410 `compacted`, gRPC OUT_OF_RANGE)
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from types import TracebackType
from typing import Any, Protocol, Self

from testclient.errors import (
    AccessDenied,
    AlreadyExists,
    Compacted,
    IdempotencyKeyReused,
    KVClientError,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    Rejected,
    Unavailable,
)
from testclient.results import (
    IdempotencyReport,
    KVEntry,
    KVEvent,
    KVPage,
    KVTxnResult,
    Written,
)


class ClosingClient:
    """`async with` support for a client: closes it on the way out."""

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class KVClient(Protocol):
    """The KV operations as a client sees them. Use as an async context manager."""

    transport: str
    """The protocol spoken: its name in `CLIENTS` (testclient.transports)."""

    async def put(
        self,
        key: str,
        value: Any,
        *,
        expected_revision: int | None = None,
        ttl: int | None = None,
        idempotency_key: str | None = None,
    ) -> Written:
        """Create or replace; with `expected_revision`, only if the entry is at it. With `ttl`,
        the entry expires that many seconds later; without, it never expires.

        With `idempotency_key` (every write takes one; not over RESP, which
        has none: Rejected), the write is sent with it and retried once with
        it when it ends OutcomeUnknown or Unavailable (`testclient.retry`): the
        answer's `idempotency` says whether it was a replay or a retry.
        IdempotencyKeyReused when the key was sent with another request."""
        ...

    async def create(
        self, key: str, value: Any, *, ttl: int | None = None, idempotency_key: str | None = None
    ) -> KVEntry:
        """Create only; AlreadyExists if the key has an entry. `ttl`, `idempotency_key` as
        for `put`."""
        ...

    async def get(self, key: str) -> KVEntry:
        """The entry at `key`; NotFound if there is none."""
        ...

    async def delete(
        self,
        key: str,
        *,
        expected_revision: int | None = None,
        idempotency_key: str | None = None,
    ) -> KVEntry:
        """Remove `key` and return the entry it had; NotFound if there is none.
        `idempotency_key` as for `put`."""
        ...

    async def list(
        self,
        prefix: str = "",
        *,
        limit: int | None = None,
        cursor: str | None = None,
        keys_only: bool = False,
    ) -> KVPage:
        """One page of the keys starting with `prefix`, in key order (UTF-8 byte order).

        `limit`: at most that many entries (None: the service's default, 100).
        `cursor`: the `next_cursor` of the page before (None: the first page).
        `keys_only`: entries without values. Rejected for a limit out of
        1..1000 or a cursor the service did not make for this prefix.
        """
        ...

    def watch(
        self,
        prefix: str = "",
        *,
        from_revision: int | None = None,
        after_revision: int | None = None,
    ) -> AsyncGenerator[KVEvent, None]:
        """Every change of a key starting with `prefix`, in revision order, as it happens.

        `from_revision`: start with the change at that revision (or the first
        after it); `after_revision`: resume after that revision, the last one
        received (HTTP sends it as Last-Event-ID); neither: only changes
        after now. Compacted when the service no longer keeps those changes.
        The iterator ends when the service ends the stream (shutdown, or a
        watcher too slow); resume with `after_revision`. Close it (`aclose`)
        when done.
        """
        ...

    async def txn(
        self, request: dict[str, Any], *, idempotency_key: str | None = None
    ) -> KVTxnResult:
        """Carry out a transaction atomically: the body of `POST /v1/txn`
        (`{"compare": [...], "success": [...], "failure": [...]}`). Rejected
        for a malformed or too large one. `idempotency_key` as for `put`."""
        ...

    async def close(self) -> None:
        """Release the connection(s)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


# The client's errors and results, importable from here as from their own modules.
__all__ = [
    "AccessDenied",
    "AlreadyExists",
    "ClosingClient",
    "Compacted",
    "IdempotencyKeyReused",
    "IdempotencyReport",
    "KVClient",
    "KVClientError",
    "KVEntry",
    "KVEvent",
    "KVPage",
    "KVTxnResult",
    "NotFound",
    "OutcomeUnknown",
    "PreconditionFailed",
    "Rejected",
    "Unavailable",
    "Written",
]
