"""KeyValueServicer: the `kv.v1.KeyValue` methods over KeyValueService.

Methods only translate messages; `unary_call` and `streaming_call` (calls.py) give each
its request scope (request id, metrics, access line), and turn a domain error it raises into
its status code through the table in `errors.py`.
"""

from __future__ import annotations

from typing import Any

from kv.domain import Condition, Entry, InvalidRequest, JsonValue, KeyValueService
from kv.observability import Observability
from kv.transports.grpc import txn
from kv.transports.grpc.call_admission import CallAdmission
from kv.transports.grpc.calls import streaming_call, unary_call
from kv.transports.grpc.grpc_internals import Context
from kv.transports.grpc.values import from_json, to_json
from kv.transports.grpc.watch import WatchEvents, stream_changes
from kv.v1 import kv_pb2, kv_pb2_grpc

SERVICE_NAME = kv_pb2.DESCRIPTOR.services_by_name["KeyValue"].full_name
DEFAULT_LIST_LIMIT = 100
# A ListResponse's own fields (cursor, revision), and an entry's tag and length.
LIST_FRAMING_BYTES = 8 * 1024
ENTRY_TAG_BYTES = 6


def _ttl_seconds(request: kv_pb2.PutRequest | kv_pb2.CreateRequest) -> int | None:
    """The request's ttl (None: absent); its range is the domain's to check."""
    return request.ttl_seconds if request.HasField("ttl_seconds") else None


def _list_limit(request: kv_pb2.ListRequest) -> int:
    return request.limit if request.HasField("limit") else DEFAULT_LIST_LIMIT


def _value(request: kv_pb2.PutRequest | kv_pb2.CreateRequest, max_value_bytes: int) -> JsonValue:
    if not request.HasField("value"):
        raise InvalidRequest("value is required")
    # Every item of a value takes at least two bytes of its compact JSON (one
    # for itself, one for a separator or bracket), less one for the outermost:
    # a value with more items is over the limit, whatever they are.
    return to_json(request.value, max_items=(max_value_bytes + 1) // 2)


def _put_condition(request: kv_pb2.PutRequest) -> Condition | None:
    if not request.HasField("expected_revision"):
        return None
    if request.expected_revision == 0:
        return Condition.absent()
    return Condition.at_revision(request.expected_revision)


def _delete_condition(request: kv_pb2.DeleteRequest) -> Condition | None:
    if not request.HasField("expected_revision"):
        return None
    if request.expected_revision == 0:
        raise InvalidRequest("expected_revision 0 (must not exist) makes no sense on Delete")
    return Condition.at_revision(request.expected_revision)


class KeyValueServicer(kv_pb2_grpc.KeyValueServicer):
    """Serves `kv.v1.KeyValue` (see proto/kv/v1/kv.proto) from `service`."""

    def __init__(
        self,
        service: KeyValueService,
        calls: CallAdmission,
        observability: Observability,
        *,
        watch_write_timeout: float,
        max_message_bytes: int,
    ) -> None:
        """`watch_write_timeout`: a Watch whose client takes no event for this long is ended.

        `max_message_bytes`: the largest message sent; a List page is cut to fit it.
        """
        self._service = service
        self._max_message_bytes = max_message_bytes
        self.calls = calls
        self.observability = observability
        self._watch_events = WatchEvents(service)
        self._watch_write_timeout = watch_write_timeout

    def _entry_fields(self, entry: Entry) -> dict[str, Any]:
        """The key, value, revision and (when the entry expires) ttl_seconds of a response."""
        fields = {"key": entry.key, "value": from_json(entry.value), "revision": entry.revision}
        ttl = self._service.ttl_left(entry)
        if ttl is not None:
            fields["ttl_seconds"] = ttl
        return fields

    @unary_call(SERVICE_NAME)
    async def Put(self, request: kv_pb2.PutRequest, context: Context) -> kv_pb2.PutResponse:
        """Create or replace; `expected_revision` 0 means the key must not exist."""
        result = await self._service.put(
            request.key,
            _value(request, self._service.max_value_bytes),
            _put_condition(request),
            ttl=_ttl_seconds(request),
        )
        return kv_pb2.PutResponse(**self._entry_fields(result.entry), created=result.created)

    @unary_call(SERVICE_NAME)
    async def Create(
        self, request: kv_pb2.CreateRequest, context: Context
    ) -> kv_pb2.CreateResponse:
        """Create only: ALREADY_EXISTS when the key has an entry."""
        entry = await self._service.create(
            request.key, _value(request, self._service.max_value_bytes), ttl=_ttl_seconds(request)
        )
        return kv_pb2.CreateResponse(**self._entry_fields(entry))

    @unary_call(SERVICE_NAME)
    async def Get(self, request: kv_pb2.GetRequest, context: Context) -> kv_pb2.GetResponse:
        """The entry at the key: NOT_FOUND when there is none."""
        entry = await self._service.get(request.key)
        return kv_pb2.GetResponse(**self._entry_fields(entry))

    @unary_call(SERVICE_NAME)
    async def Delete(
        self, request: kv_pb2.DeleteRequest, context: Context
    ) -> kv_pb2.DeleteResponse:
        """Remove the key and answer the entry it had: NOT_FOUND when there is none."""
        entry = await self._service.delete(request.key, _delete_condition(request))
        return kv_pb2.DeleteResponse(**self._entry_fields(entry))

    @unary_call(SERVICE_NAME)
    async def List(self, request: kv_pb2.ListRequest, context: Context) -> kv_pb2.ListResponse:
        """One page of the keys under `prefix`, as `GET /v1/kv` answers it.

        The page is cut where its message would pass the message limit (a
        value's protobuf can take 5.5 times its JSON), with a `next_cursor`
        to go on from there: a page always fits, whatever its values.
        """
        page = await self._service.list(
            request.prefix,
            limit=_list_limit(request),
            cursor=request.cursor if request.HasField("cursor") else None,
            keys_only=request.keys_only,
        )
        entries: list[kv_pb2.ListedEntry] = []
        size = LIST_FRAMING_BYTES
        for entry in page.entries:
            if request.keys_only:
                listed = kv_pb2.ListedEntry(key=entry.key, revision=entry.revision)
            else:
                listed = kv_pb2.ListedEntry(**self._entry_fields(entry))
            size += listed.ByteSize() + ENTRY_TAG_BYTES
            if size > self._max_message_bytes and entries:
                page = self._service.page_head(page, request.prefix, len(entries))
                break
            entries.append(listed)
        return kv_pb2.ListResponse(
            entries=entries, next_cursor=page.next_cursor, revision=page.revision
        )

    @unary_call(SERVICE_NAME)
    async def Txn(self, request: kv_pb2.TxnRequest, context: Context) -> kv_pb2.TxnResponse:
        """Compares, then the success or failure ops, atomically, as `POST /v1/txn` (txn.py)."""
        service = self._service
        outcome = await service.txn(txn.request_document(request, service.max_value_bytes))
        return txn.response(outcome, service.ttl_left)

    @streaming_call(SERVICE_NAME)
    async def Watch(self, request: kv_pb2.WatchRequest, context: Context) -> None:
        """Every change under `prefix`, as `GET /v1/watch` streams it (see watch.py)."""
        await stream_changes(
            self._service, self._watch_events, request, context, self._watch_write_timeout
        )
