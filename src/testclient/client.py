"""KVClient: the port through which scenarios and the `kv` CLI talk to a KV service.

It speaks only in the client's own terms: `KVEntry` and the errors below.
Each implementation converts its protocol's errors into these in one place,
so code written against KVClient cannot tell HTTP from gRPC.

    KVClientError
    ├── NotFound            no entry at the key
    ├── AlreadyExists       create on a key that exists
    ├── PreconditionFailed  expected revision not met
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
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self


class KVClientError(Exception):
    """Base of every error a KVClient reports."""


class NotFound(KVClientError):
    """The service has no entry at the key."""


class AlreadyExists(KVClientError):
    """A create found an entry at the key."""


class PreconditionFailed(KVClientError):
    """The entry was not at the expected revision (or did not exist)."""


class Rejected(KVClientError):
    """The service refused the request: invalid key or body, value too large."""


class Unavailable(KVClientError):
    """The service could not be reached, or answered that it cannot serve now."""


class OutcomeUnknown(KVClientError):
    """The request was sent, and no answer said whether it was applied: the service's
    storage did not confirm in time, or the call's deadline passed. Read before retrying
    a write that is not idempotent."""


class Compacted(KVClientError):
    """A watch asked to start at a revision the service no longer keeps the changes of."""


@dataclass(frozen=True, slots=True)
class KVEntry:
    """An entry as the service reported it.

    `ttl`: the seconds it had left when the service answered, rounded up;
    None when it does not expire. In a keys-only listing, `value` is None.
    """

    key: str
    value: Any
    revision: int
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class KVPage:
    """One page of a listing: entries in key order, the cursor of the next page, the revision.

    `next_cursor` is None on the last page; `revision` is the service's
    revision when it read the page.
    """

    entries: tuple[KVEntry, ...]
    next_cursor: str | None
    revision: int


@dataclass(frozen=True, slots=True)
class KVEvent:
    """One change a watch reported: `type` "put" (with the value) or "delete".

    `revision`: the change's own revision. `expired`: the delete was the
    key's expiry. `ttl`: for a put of an entry that expires, its seconds left.
    """

    type: str
    key: str
    revision: int
    value: Any = None
    expired: bool = False
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class Written:
    """The entry after a put, and whether the put created the key."""

    entry: KVEntry
    created: bool


@dataclass(frozen=True, slots=True)
class KVTxnResult:
    """What a transaction did: whether its compares held, the revision after it, its results.

    `results`: one per op of the branch that ran, as the HTTP API answers
    them: a put `{"key", "revision", "created"}`, a delete `{"key",
    "deleted"}`, a get the entry `{"key", "value", "revision"[, "ttl"]}` or
    `{"key", "found": False}`.
    """

    succeeded: bool
    revision: int
    results: tuple[dict[str, Any], ...]

    @classmethod
    def from_document(cls, document: Any) -> KVTxnResult:
        """The result an answer's JSON document holds; KVClientError when it is not one."""
        try:
            results = tuple(dict(result) for result in document["results"])
            if not all(isinstance(result.get("key"), str) for result in results):
                raise ValueError("a result without a key")
            return cls(bool(document["succeeded"]), int(document["revision"]), results)
        except (KeyError, TypeError, ValueError) as exc:
            raise KVClientError(f"the transaction's answer is not as the API says: {exc}") from exc

    def entry(self, index: int) -> KVEntry | None:
        """The entry the get at `index` read (None: it found no entry)."""
        result = self.results[index]
        if result.get("found", True) is False:
            return None
        ttl = result.get("ttl")
        revision = int(result["revision"])
        return KVEntry(result["key"], result["value"], revision, None if ttl is None else int(ttl))


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
    ) -> Written:
        """Create or replace; with `expected_revision`, only if the entry is at it. With `ttl`,
        the entry expires that many seconds later; without, it never expires."""
        ...

    async def create(self, key: str, value: Any, *, ttl: int | None = None) -> KVEntry:
        """Create only; AlreadyExists if the key has an entry. `ttl` as for `put`."""
        ...

    async def get(self, key: str) -> KVEntry:
        """The entry at `key`; NotFound if there is none."""
        ...

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KVEntry:
        """Remove `key` and return the entry it had; NotFound if there is none."""
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

    async def txn(self, request: dict[str, Any]) -> KVTxnResult:
        """Carry out a transaction atomically: the body of `POST /v1/txn`
        (`{"compare": [...], "success": [...], "failure": [...]}`). Rejected
        for a malformed or too large one."""
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
