"""GrpcKVClient: KVClient over the `kv.v1.KeyValue` gRPC API, on grpc.aio."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Any

import grpc

from kv.v1 import kv_pb2, kv_pb2_grpc
from testclient.client import (
    AccessDenied,
    AlreadyExists,
    ClosingClient,
    Compacted,
    IdempotencyKeyReused,
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
from testclient.grpc_messages import (
    compare_message,
    entry_of,
    from_value,
    op_message,
    request_message,
    to_value,
    txn_answer,
)
from testclient.retry import send_write

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
    grpc.StatusCode.UNAUTHENTICATED: AccessDenied,
    grpc.StatusCode.PERMISSION_DENIED: AccessDenied,
}

# FAILED_PRECONDITION is also an idempotency key sent before with another request: its message
# says which (HTTP tells them apart by status, 412 and 422).
KEY_REUSED_MESSAGE = "idempotency key reused"
REQUEST_ID_KEY = "x-request-id"
IDEMPOTENCY_KEY = "idempotency-key"
REPLAYED = "idempotent-replayed"


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
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        """With `credentials` the channel speaks TLS; without, plain text. `token`: sent as
        `authorization: Bearer TOKEN` metadata on every call."""
        self._target = target
        self._credentials: tuple[tuple[str, str], ...] = (
            () if token is None else (("authorization", f"Bearer {token}"),)
        )
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
        idempotency_key: str | None = None,
    ) -> Written:
        request = request_message(
            kv_pb2.PutRequest,
            key=key,
            value=to_value(value),
            expected_revision=expected_revision,
            ttl_seconds=ttl,
        )

        async def attempt(once: str | None) -> tuple[Written, bool]:
            response, replayed = await self._write("Put", key, request, once)
            return Written(entry_of(response), bool(response.created)), replayed

        return await send_write(idempotency_key, attempt)

    async def create(
        self, key: str, value: Any, *, ttl: int | None = None, idempotency_key: str | None = None
    ) -> KVEntry:
        request = request_message(
            kv_pb2.CreateRequest, key=key, value=to_value(value), ttl_seconds=ttl
        )

        async def attempt(once: str | None) -> tuple[KVEntry, bool]:
            response, replayed = await self._write("Create", key, request, once)
            return entry_of(response), replayed

        return await send_write(idempotency_key, attempt)

    async def get(self, key: str) -> KVEntry:
        return entry_of(await self._call("Get", key, kv_pb2.GetRequest(key=key)))

    async def delete(
        self,
        key: str,
        *,
        expected_revision: int | None = None,
        idempotency_key: str | None = None,
    ) -> KVEntry:
        request = kv_pb2.DeleteRequest(key=key, expected_revision=expected_revision)

        async def attempt(once: str | None) -> tuple[KVEntry, bool]:
            response, replayed = await self._write("Delete", key, request, once)
            return entry_of(response), replayed

        return await send_write(idempotency_key, attempt)

    async def list(
        self,
        prefix: str = "",
        *,
        limit: int | None = None,
        cursor: str | None = None,
        keys_only: bool = False,
    ) -> KVPage:
        request = request_message(
            kv_pb2.ListRequest, prefix=prefix, limit=limit, cursor=cursor, keys_only=keys_only
        )
        response = await self._call("List", prefix, request)
        entries = []
        for listed in response.entries:
            if not keys_only:
                entries.append(entry_of(listed))
            elif listed.HasField("value") or listed.HasField("ttl_seconds"):
                raise KVClientError(
                    f"List prefix {prefix!r}: a keys_only entry carries a value or ttl_seconds"
                )
            else:
                entries.append(KVEntry(str(listed.key), None, int(listed.revision)))
        next_cursor = response.next_cursor if response.HasField("next_cursor") else None
        return KVPage(tuple(entries), next_cursor, int(response.revision))

    async def txn(
        self, request: dict[str, Any], *, idempotency_key: str | None = None
    ) -> KVTxnResult:
        message = request_message(
            kv_pb2.TxnRequest,
            compare=[compare_message(c) for c in request.get("compare", ())],
            success=[op_message(op) for op in request.get("success", ())],
            failure=[op_message(op) for op in request.get("failure", ())],
        )

        async def attempt(once: str | None) -> tuple[KVTxnResult, bool]:
            response, replayed = await self._write("Txn", "txn", message, once)
            return txn_answer(request, response), replayed

        return await send_write(idempotency_key, attempt)

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
        metadata = ((REQUEST_ID_KEY, self._request_id or uuid.uuid4().hex), *self._credentials)
        # No deadline: the stream lasts as long as the watcher wants.
        call = self._stub.Watch(request, metadata=metadata)
        try:
            async for event in call:
                ttl = int(event.ttl_seconds) if event.HasField("ttl_seconds") else None
                value = from_value(event.value) if event.HasField("value") else None
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
        return (await self._write(method, key, request, None))[0]

    async def _write(
        self, method: str, key: str, request: Any, idempotency_key: str | None
    ) -> tuple[Any, bool]:
        """`_call`, with the idempotency key when not None: (response, whether a replay)."""
        metadata: tuple[tuple[str, str], ...] = (
            (REQUEST_ID_KEY, self._request_id or uuid.uuid4().hex),
            *self._credentials,
        )
        if idempotency_key is not None:
            metadata += ((IDEMPOTENCY_KEY, idempotency_key),)
        try:
            call = getattr(self._stub, method)(request, timeout=self._timeout, metadata=metadata)
            response = await call
            if idempotency_key is None:
                return response, False
            trailing = await call.trailing_metadata() or ()
            return response, (REPLAYED, "true") in tuple(trailing)
        except grpc.aio.AioRpcError as exc:
            error_type = STATUS_ERRORS.get(exc.code(), KVClientError)
            if error_type is PreconditionFailed and (exc.details() or "").startswith(
                KEY_REUSED_MESSAGE
            ):
                error_type = IdempotencyKeyReused
            detail = f"{method} {key!r}: {exc.code().name} {exc.details() or ''}".rstrip()
            if error_type is Unavailable:
                detail += f" (target {self._target})"
            raise error_type(detail) from exc
