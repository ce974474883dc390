"""A transaction's answer as the JSON document every transport sends (gRPC field for field).

{"succeeded": bool, "revision": R, "results": [RES, ...]}
RES, one per op of the branch that ran:
    put     {"key": K, "revision": R, "created": bool}
    delete  {"key": K, "deleted": bool}
    get     the entry {"key", "value", "revision"[, "ttl"]} or {"key": K, "found": false}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kv.domain import Decision, Entry, Outcome, Read, WriteKind


def entry_document(entry: Entry, ttl_left: Callable[[Entry], int | None]) -> dict[str, Any]:
    """`{"key", "value", "revision"}`, plus `"ttl"` (seconds left) when the entry expires."""
    document: dict[str, Any] = {"key": entry.key, "value": entry.value, "revision": entry.revision}
    ttl = ttl_left(entry)
    if ttl is not None:
        document["ttl"] = ttl
    return document


def txn_document(outcome: Outcome, ttl_left: Callable[[Entry], int | None]) -> dict[str, Any]:
    """The answer to a transaction (`ttl_left`: the service's, for the entries gets return)."""
    results: list[dict[str, Any]] = []
    for op, result in zip(outcome.ops, outcome.results, strict=True):
        if isinstance(op, Read):
            seen = result.entry
            found = entry_document(seen, ttl_left) if seen is not None else None
            results.append(found if found is not None else {"key": op.key, "found": False})
        elif op.kind is WriteKind.DELETE:
            results.append({"key": op.key, "deleted": result.decision is Decision.REMOVE})
        else:
            created = result.previous is None and result.decision is Decision.STORE
            results.append({"key": op.key, "revision": result.revision, "created": created})
    return {"succeeded": outcome.succeeded, "revision": outcome.revision, "results": results}
