"""GrpcKVClient: KVClient over the `kv.v1.KeyValue` gRPC API, on grpc.aio."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2

from kv.v1 import kv_pb2, kv_pb2_grpc
from testclient.client import (
    AlreadyExists,
    ClosingClient,
    Compacted,
    KVClientError,
    KVEntry,
    KVEvent,
    KVPage,
    KVTxnResult,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    Rejected,
    Unavailable,
    Written,
)

# The one place gRPC status codes become the client's errors. A failed
# connection is UNAVAILABLE to grpc too. DEADLINE_EXCEEDED is the server's
# `outcome_unknown`, or this call's own deadline passing: either way the
# request may have been applied.
STATUS_ERRORS: dict[grpc.StatusCode, type[KVClientError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: Rejected,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Rejected,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: PreconditionFailed,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: OutcomeUnknown,
    grpc.StatusCode.OUT_OF_RANGE: Compacted,
}

REQUEST_ID_KEY = "x-request-id"
# Integers of at most this magnitude survive the trip as a double exactly.
MAX_EXACT_INTEGER = 2**53


class GrpcKVClient(ClosingClient):
    """Talks to `kv-server`'s gRPC transport at `target` (e.g. localhost:50051).

    Create it inside a running event loop. Numbers travel as doubles: whole
    ones come back as ints, like JSON over HTTP gives them; integers beyond
    2**53 come back as the nearest float.
    """

    transport = "grpc"

    def __init__(
        self,
        target: str,
        *,
        timeout: float = 10.0,
        request_id: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        """With `credentials` the channel speaks TLS; without, plain text."""
        self._target = target
        self._timeout = timeout
        self._request_id = request_id
        # The server bounds what it sends; a value's encoding may exceed
        # grpc's default 4 MiB receive limit.
        options = [("grpc.max_receive_message_length", -1)]
        self._channel = (
            grpc.aio.insecure_channel(target, options=options)
            if credentials is None
            else grpc.aio.secure_channel(target, credentials, options=options)
        )
        self._stub = kv_pb2_grpc.KeyValueStub(self._channel)  # type: ignore[no-untyped-call]

    async def put(
        self,
        key: str,
        value: Any,
        *,
        expected_revision: int | None = None,
        ttl: int | None = None,
    ) -> Written:
        request = _message(
            kv_pb2.PutRequest,
            key=key,
            value=_to_value(value),
            expected_revision=expected_revision,
            ttl_seconds=ttl,
        )
        response = await self._call("Put", key, request)
        return Written(_entry(response), bool(response.created))

    async def create(self, key: str, value: Any, *, ttl: int | None = None) -> KVEntry:
        request = _message(kv_pb2.CreateRequest, key=key, value=_to_value(value), ttl_seconds=ttl)
        return _entry(await self._call("Create", key, request))

    async def get(self, key: str) -> KVEntry:
        return _entry(await self._call("Get", key, kv_pb2.GetRequest(key=key)))

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KVEntry:
        request = kv_pb2.DeleteRequest(key=key, expected_revision=expected_revision)
        return _entry(await self._call("Delete", key, request))

    async def list(
        self,
        prefix: str = "",
        *,
        limit: int | None = None,
        cursor: str | None = None,
        keys_only: bool = False,
    ) -> KVPage:
        request = _message(
            kv_pb2.ListRequest, prefix=prefix, limit=limit, cursor=cursor, keys_only=keys_only
        )
        response = await self._call("List", prefix, request)
        entries = []
        for listed in response.entries:
            if not keys_only:
                entries.append(_entry(listed))
            elif listed.HasField("value") or listed.HasField("ttl_seconds"):
                raise KVClientError(
                    f"List prefix {prefix!r}: a keys_only entry carries a value or ttl_seconds"
                )
            else:
                entries.append(KVEntry(str(listed.key), None, int(listed.revision)))
        next_cursor = response.next_cursor if response.HasField("next_cursor") else None
        return KVPage(tuple(entries), next_cursor, int(response.revision))

    async def txn(self, request: dict[str, Any]) -> KVTxnResult:
        message = _message(
            kv_pb2.TxnRequest,
            compare=[_compare(c) for c in request.get("compare", ())],
            success=[_op(op) for op in request.get("success", ())],
            failure=[_op(op) for op in request.get("failure", ())],
        )
        response = await self._call("Txn", "txn", message)
        # Each result answers the op at its place in the branch that ran.
        ran = request.get("success" if response.succeeded else "failure", ())
        if len(ran) != len(response.results):
            raise KVClientError(f"Txn: {len(response.results)} results for {len(ran)} ops")
        results = [
            _txn_result(op, result) for op, result in zip(ran, response.results, strict=True)
        ]
        return KVTxnResult(bool(response.succeeded), int(response.revision), tuple(results))

    async def watch(
        self,
        prefix: str = "",
        *,
        from_revision: int | None = None,
        after_revision: int | None = None,
    ) -> AsyncGenerator[KVEvent, None]:
        if after_revision is not None:
            from_revision = after_revision + 1
        request = kv_pb2.WatchRequest(prefix=prefix, from_revision=from_revision)
        metadata = ((REQUEST_ID_KEY, self._request_id or uuid.uuid4().hex),)
        # No deadline: the stream lasts as long as the watcher wants.
        call = self._stub.Watch(request, metadata=metadata)
        try:
            async for event in call:
                ttl = int(event.ttl_seconds) if event.HasField("ttl_seconds") else None
                value = _from_value(event.value) if event.HasField("value") else None
                yield KVEvent(
                    str(event.type),
                    str(event.key),
                    int(event.revision),
                    value,
                    bool(event.expired),
                    ttl,
                )
        except grpc.aio.AioRpcError as exc:
            error_type = STATUS_ERRORS.get(exc.code(), KVClientError)
            raise error_type(f"Watch {prefix!r}: {exc.code().name} {exc.details() or ''}") from exc
        finally:
            call.cancel()

    async def close(self) -> None:
        await self._channel.close(grace=None)

    async def _call(self, method: str, key: str, request: Any) -> Any:
        """Call `method` about `key` (in error messages; a listing passes its prefix)."""
        metadata = ((REQUEST_ID_KEY, self._request_id or uuid.uuid4().hex),)
        try:
            return await getattr(self._stub, method)(
                request, timeout=self._timeout, metadata=metadata
            )
        except grpc.aio.AioRpcError as exc:
            error_type = STATUS_ERRORS.get(exc.code(), KVClientError)
            detail = f"{method} {key!r}: {exc.code().name} {exc.details() or ''}".rstrip()
            if error_type is Unavailable:
                detail += f" (target {self._target})"
            raise error_type(detail) from exc


def _message(message_type: Callable[..., Any], **fields: Any) -> Any:
    """A request message; Rejected for a number its field cannot hold (an int32 limit of 2**40),
    as the server would refuse it over HTTP."""
    try:
        return message_type(**fields)
    except ValueError as exc:
        raise Rejected(f"cannot be sent over gRPC: {exc}") from exc


def _to_value(value: Any) -> struct_pb2.Value:
    try:
        return json_format.ParseDict(value, struct_pb2.Value())
    except (json_format.ParseError, OverflowError) as exc:
        raise Rejected(f"value cannot be sent over gRPC: {exc}") from exc


def _from_value(value: struct_pb2.Value) -> Any:
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


def _entry(response: Any) -> KVEntry:
    ttl = int(response.ttl_seconds) if response.HasField("ttl_seconds") else None
    return KVEntry(str(response.key), _from_value(response.value), int(response.revision), ttl)


def _compare(compare: dict[str, Any]) -> Any:
    """A `TxnCompare` for a compare as the HTTP API spells it."""
    fields: dict[str, Any] = {"key": compare.get("key", "")}
    for test in ("revision", "exists"):
        if test in compare:
            fields[test] = compare[test]
    if "value" in compare:
        fields["value"] = _to_value(compare["value"])
    return _message(kv_pb2.TxnCompare, **fields)


def _op(op: dict[str, Any]) -> Any:
    """A `TxnOp` for an op as the HTTP API spells it."""
    fields: dict[str, Any] = {"op": op.get("op", ""), "key": op.get("key", "")}
    if "value" in op:
        fields["value"] = _to_value(op["value"])
    if "ttl" in op:
        fields["ttl_seconds"] = op["ttl"]
    return _message(kv_pb2.TxnOp, **fields)


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
        "value": _from_value(result.value),
        "revision": int(result.revision),
    }
    if result.HasField("ttl_seconds"):
        document["ttl"] = int(result.ttl_seconds)
    return document
