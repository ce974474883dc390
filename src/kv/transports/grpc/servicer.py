"""KeyValueServicer: the `kv.v1.KeyValue` methods over KeyValueService.

Methods only translate messages; `unary_call` (calls.py) gives each its
request id and access line, and turns a domain error it raises into its
status code through the table in `errors.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc

from kv.domain import Condition, Entry, InvalidRequest, JsonValue, KeyValueService
from kv.transports.admission import Admission
from kv.transports.grpc.calls import unary_call
from kv.transports.grpc.values import from_json, to_json
from kv.v1 import kv_pb2, kv_pb2_grpc

if TYPE_CHECKING:  # the stubs make it generic; the runtime class is not subscriptable
    Context = grpc.aio.ServicerContext[object, object]

SERVICE_NAME = kv_pb2.DESCRIPTOR.services_by_name["KeyValue"].full_name


def _entry_fields(entry: Entry) -> dict[str, Any]:
    """The key, value and revision every response carries."""
    return {"key": entry.key, "value": from_json(entry.value), "revision": entry.revision}


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

    def __init__(self, service: KeyValueService, admission: Admission) -> None:
        self._service = service
        self.admission = admission

    @unary_call(SERVICE_NAME)
    async def Put(self, request: kv_pb2.PutRequest, context: Context) -> kv_pb2.PutResponse:
        """Create or replace; `expected_revision` 0 means the key must not exist."""
        result = await self._service.put(
            request.key, _value(request, self._service.max_value_bytes), _put_condition(request)
        )
        entry = result.entry
        return kv_pb2.PutResponse(**_entry_fields(entry), created=result.created)

    @unary_call(SERVICE_NAME)
    async def Create(
        self, request: kv_pb2.CreateRequest, context: Context
    ) -> kv_pb2.CreateResponse:
        """Create only: ALREADY_EXISTS when the key has an entry."""
        entry = await self._service.create(
            request.key, _value(request, self._service.max_value_bytes)
        )
        return kv_pb2.CreateResponse(**_entry_fields(entry))

    @unary_call(SERVICE_NAME)
    async def Get(self, request: kv_pb2.GetRequest, context: Context) -> kv_pb2.GetResponse:
        """The entry at the key: NOT_FOUND when there is none."""
        entry = await self._service.get(request.key)
        return kv_pb2.GetResponse(**_entry_fields(entry))

    @unary_call(SERVICE_NAME)
    async def Delete(
        self, request: kv_pb2.DeleteRequest, context: Context
    ) -> kv_pb2.DeleteResponse:
        """Remove the key and answer the entry it had: NOT_FOUND when there is none."""
        entry = await self._service.delete(request.key, _delete_condition(request))
        return kv_pb2.DeleteResponse(**_entry_fields(entry))
