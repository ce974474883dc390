"""What KVClient calls return: entries, pages, watch events, writes, transaction results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from testclient.errors import KVClientError


@dataclass(frozen=True, slots=True)
class IdempotencyReport:
    """What became of a write sent with an idempotency key.

    `replayed`: the service answered with the answer it recorded for the key
    (the write was not applied again). `retried`: the first attempt ended
    without an answer that says what happened (OutcomeUnknown, or Unavailable:
    a connection lost or refused), and this is the answer to the one retry
    with the same key; `first_failure` says how the first attempt ended.
    """

    key: str
    replayed: bool
    retried: bool = False
    first_failure: str | None = None


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
    # Set on the answer to a write sent with an idempotency key; not part of the entry.
    idempotency: IdempotencyReport | None = field(default=None, compare=False)


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
    idempotency: IdempotencyReport | None = field(default=None, compare=False)


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
    idempotency: IdempotencyReport | None = field(default=None, compare=False)

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
