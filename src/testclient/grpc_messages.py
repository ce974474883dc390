"""The `kv.v1` messages the gRPC client sends and reads, to and from the client's types.

Values travel as `google.protobuf.Value` (numbers as doubles); transactions
are spelled as the HTTP API spells them and made into `TxnCompare`/`TxnOp`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import json_format, struct_pb2

from kv.v1 import kv_pb2
from testclient.client import KVClientError, KVEntry, KVTxnResult, Rejected

# Integers of at most this magnitude survive the trip as a double exactly.
MAX_EXACT_INTEGER = 2**53


def txn_answer(request: dict[str, Any], response: Any) -> KVTxnResult:
    # Each result answers the op at its place in the branch that ran.
    ran = request.get("success" if response.succeeded else "failure", ())
    if len(ran) != len(response.results):
        raise KVClientError(f"Txn: {len(response.results)} results for {len(ran)} ops")
    results = [_txn_result(op, result) for op, result in zip(ran, response.results, strict=True)]
    return KVTxnResult(bool(response.succeeded), int(response.revision), tuple(results))


def request_message(message_type: Callable[..., Any], **fields: Any) -> Any:
    """A request message; Rejected for a number its field cannot hold (an int32 limit of 2**40),
    as the server would refuse it over HTTP."""
    try:
        return message_type(**fields)
    except ValueError as exc:
        raise Rejected(f"cannot be sent over gRPC: {exc}") from exc


def to_value(value: Any) -> struct_pb2.Value:
    try:
        return json_format.ParseDict(value, struct_pb2.Value())
    except (json_format.ParseError, OverflowError) as exc:
        raise Rejected(f"value cannot be sent over gRPC: {exc}") from exc


def from_value(value: struct_pb2.Value) -> Any:
    return _whole_numbers(json_format.MessageToDict(value))


def _whole_numbers(document: Any) -> Any:
    """`document` with every whole float of at most 2**53 made an int, as JSON would give it."""
    if isinstance(document, float) and document.is_integer() and abs(document) <= MAX_EXACT_INTEGER:
        return int(document)
    if isinstance(document, dict):
        return {name: _whole_numbers(item) for name, item in document.items()}
    if isinstance(document, list):
        return [_whole_numbers(item) for item in document]
    return document


def entry_of(response: Any) -> KVEntry:
    ttl = int(response.ttl_seconds) if response.HasField("ttl_seconds") else None
    return KVEntry(str(response.key), from_value(response.value), int(response.revision), ttl)


def compare_message(compare: dict[str, Any]) -> Any:
    """A `TxnCompare` for a compare as the HTTP API spells it."""
    fields: dict[str, Any] = {"key": compare.get("key", "")}
    for test in ("revision", "exists"):
        if test in compare:
            fields[test] = compare[test]
    if "value" in compare:
        fields["value"] = to_value(compare["value"])
    return request_message(kv_pb2.TxnCompare, **fields)


def op_message(op: dict[str, Any]) -> Any:
    """A `TxnOp` for an op as the HTTP API spells it."""
    fields: dict[str, Any] = {"op": op.get("op", ""), "key": op.get("key", "")}
    if "value" in op:
        fields["value"] = to_value(op["value"])
    if "ttl" in op:
        fields["ttl_seconds"] = op["ttl"]
    return request_message(kv_pb2.TxnOp, **fields)


def _txn_result(op: dict[str, Any], result: Any) -> dict[str, Any]:
    """A `TxnResult` as the HTTP API answers the op it answers."""
    if op.get("op") == "put":
        return {"key": result.key, "revision": int(result.revision), "created": result.created}
    if op.get("op") == "delete":
        return {"key": result.key, "deleted": result.deleted}
    if not result.found:
        return {"key": result.key, "found": False}
    document: dict[str, Any] = {
        "key": result.key,
        "value": from_value(result.value),
        "revision": int(result.revision),
    }
    if result.HasField("ttl_seconds"):
        document["ttl"] = int(result.ttl_seconds)
    return document
