"""A transaction request as clients send it (the JSON body of `POST /v1/txn`), validated.

    {"compare": [C, ...], "success": [OP, ...], "failure": [OP, ...]}
    C:  {"key": K, "revision": R} | {"key": K, "value": V} | {"key": K, "exists": bool}
    OP: {"op": "put", "key": K, "value": V[, "ttl": S]} | {"op": "delete", "key": K}
        | {"op": "get", "key": K}

Every transport reads its request into this document shape (HTTP and RESP's
KV.TXN from JSON, gRPC field for field) and `read_transaction` makes the
domain's `Transaction` of it, with one set of rules: at most MAX_COMPARES
compares and MAX_OPS ops per branch, no key written twice in one branch, no
unknown field (InvalidRequest); the values of the transaction together at
most the value limit (ValueTooLarge).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kv.domain.errors import InvalidRequest, ValueTooLarge
from kv.domain.model import JsonValue, check_nesting, encode_value, validate_key
from kv.domain.transactions import MAX_COMPARES, MAX_OPS, Compare, Op, Read, Transaction
from kv.domain.ttl import validate_ttl
from kv.domain.writes import Write

_FIELDS = frozenset({"compare", "success", "failure"})
_COMPARE_TESTS = ("revision", "value", "exists")
_OP_FIELDS = {
    "put": frozenset({"op", "key", "value", "ttl"}),
    "delete": frozenset({"op", "key"}),
    "get": frozenset({"op", "key"}),
}


class _Values:
    """Encodes each value once and adds up their sizes against the transaction's limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0

    def encode(self, value: JsonValue) -> bytes:
        check_nesting(value)
        encoded = encode_value(value)
        self.total += len(encoded)
        if self.total > self.limit:
            raise ValueTooLarge(
                f"the values of the transaction come to more than {self.limit} bytes "
                "as compact JSON; the limit is for all of them together"
            )
        return encoded


def read_transaction(document: object, max_value_bytes: int) -> Transaction:
    """The `Transaction` `document` asks for; InvalidRequest or ValueTooLarge when it is not one."""
    if not isinstance(document, Mapping):
        raise InvalidRequest("a transaction must be a JSON object")
    unknown = set(document) - _FIELDS
    if unknown:
        raise InvalidRequest(f"unknown transaction field(s): {', '.join(sorted(unknown))}")
    values = _Values(max_value_bytes)
    compares = _items(document, "compare", MAX_COMPARES, lambda c: _compare(c, values))
    success = _branch(document, "success", values)
    failure = _branch(document, "failure", values)
    return Transaction(tuple(compares), tuple(success), tuple(failure))


def _items(
    document: Mapping[str, Any], name: str, limit: int, read: Callable[[Any], Any]
) -> list[Any]:
    if name not in document:
        return []
    items = document[name]
    if not isinstance(items, list):
        raise InvalidRequest(f'"{name}" must be a list')
    if len(items) > limit:
        raise InvalidRequest(f'"{name}" has {len(items)} items; the limit is {limit}')
    return [read(item) for item in items]


def _key(item: Mapping[str, Any], where: str) -> str:
    key = item.get("key")
    if not isinstance(key, str):
        raise InvalidRequest(f'each {where} needs a "key" string')
    return validate_key(key)


def _compare(item: object, values: _Values) -> Compare:
    if not isinstance(item, Mapping):
        raise InvalidRequest("each compare must be a JSON object")
    tests = [name for name in _COMPARE_TESTS if name in item]
    if len(tests) != 1 or set(item) - {"key", *_COMPARE_TESTS}:
        raise InvalidRequest(
            'a compare is {"key": K} and exactly one of "revision", "value" or "exists"'
        )
    key = _key(item, "compare")
    if tests == ["revision"]:
        revision = item["revision"]
        if type(revision) is not int or revision < 0:
            raise InvalidRequest(f"a compare's revision must be a whole number, got {revision!r}")
        return Compare(key, revision=revision)
    if tests == ["exists"]:
        if type(item["exists"]) is not bool:
            raise InvalidRequest('a compare\'s "exists" must be true or false')
        return Compare(key, exists=item["exists"])
    value = item["value"]
    return Compare(key, value=value, value_json=values.encode(value))


def _branch(document: Mapping[str, Any], name: str, values: _Values) -> list[Op]:
    ops: list[Op] = _items(document, name, MAX_OPS, lambda op: _op(op, values))
    written: set[str] = set()
    for op in ops:
        if isinstance(op, Write):
            if op.key in written:
                raise InvalidRequest(f'"{name}" writes the key {op.key!r} more than once')
            written.add(op.key)
    return ops


def _op(item: object, values: _Values) -> Op:
    if not isinstance(item, Mapping):
        raise InvalidRequest("each op must be a JSON object")
    kind = item.get("op")
    fields = _OP_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise InvalidRequest('each op needs "op": "put", "delete" or "get"')
    unknown = set(item) - fields
    if unknown:
        raise InvalidRequest(f"unknown field(s) in a {kind} op: {', '.join(sorted(unknown))}")
    key = _key(item, f"{kind} op")
    if kind == "get":
        return Read(key)
    if kind == "delete":
        return Write.delete(key, missing_ok=True)
    if "value" not in item:
        raise InvalidRequest('a put op needs a "value"')
    ttl = item.get("ttl")
    if "ttl" in item and type(ttl) is not int:
        raise InvalidRequest(f"ttl must be a whole number of seconds, got {ttl!r}")
    value = item["value"]
    return Write.put(key, value, values.encode(value), ttl=validate_ttl(ttl))
