"""`Txn`: a `kv.v1.TxnRequest` as the transaction document the service reads, and its answer.

The messages mirror `POST /v1/txn` field for field, so the request becomes
the same JSON document (kv.domain.txn_requests validates it for every
transport) and the answer is built from the same one (kv.transports.txn_answers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kv.domain import Entry, InvalidRequest, JsonValue, Outcome
from kv.transports.grpc.values import from_json, to_json
from kv.transports.txn_answers import txn_document
from kv.v1 import kv_pb2


def request_document(request: kv_pb2.TxnRequest, max_value_bytes: int) -> dict[str, Any]:
    """The transaction document `request` stands for."""
    items = (max_value_bytes + 1) // 2  # see servicer._value: more items cannot fit
    compares: list[dict[str, Any]] = []
    for compare in request.compare:
        test = compare.WhichOneof("test")
        if test is None:
            raise InvalidRequest('a compare needs one of "revision", "value" or "exists"')
        tested: JsonValue = (
            to_json(compare.value, max_items=items) if test == "value" else getattr(compare, test)
        )
        compares.append({"key": compare.key, test: tested})
    return {
        "compare": compares,
        "success": [_op(op, items) for op in request.success],
        "failure": [_op(op, items) for op in request.failure],
    }


def _op(op: kv_pb2.TxnOp, items: int) -> dict[str, Any]:
    document: dict[str, Any] = {"op": op.op, "key": op.key}
    if op.HasField("value"):
        document["value"] = to_json(op.value, max_items=items)
    if op.HasField("ttl_seconds"):
        document["ttl"] = op.ttl_seconds
    return document


def response(outcome: Outcome, ttl_left: Callable[[Entry], int | None]) -> kv_pb2.TxnResponse:
    """The `TxnResponse` of a transaction: the HTTP answer's fields."""
    document = txn_document(outcome, ttl_left)
    results = []
    for result in document["results"]:
        fields = dict(result)
        if "value" in fields:  # a get that found its entry
            fields["value"] = from_json(fields["value"])
            fields["found"] = True
        if "ttl" in fields:
            fields["ttl_seconds"] = fields.pop("ttl")
        results.append(kv_pb2.TxnResult(**fields))
    return kv_pb2.TxnResponse(
        succeeded=document["succeeded"], revision=document["revision"], results=results
    )
