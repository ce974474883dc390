"""JSON values to and from `google.protobuf.Value`, exactly.

A `Value` holds every JSON type, but its numbers are doubles. Going in, a
whole number of magnitude at most 2**53 becomes a Python int, so that `1` put
over gRPC is stored, and served over HTTP, as `1` and not `1.0`; larger
integers put over HTTP come back over gRPC as the nearest double (documented
in the README and the proto). Object keys are stored sorted: a protobuf map
has no order, and sorting makes the same object put twice the same value.

Not built on `json_format`, because it turns NaN and infinities into strings;
here they reach the domain as floats and are refused as not JSON.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2

from kv.domain import InvalidRequest, JsonValue, ValueTooLarge
from kv.domain.model import MAX_NESTING

# Every integer of at most this magnitude is exactly representable as a double.
MAX_EXACT_INTEGER = 2**53


def whole_number(number: float) -> int | float:
    """`number` as an int when it is whole and exactly representable, else unchanged."""
    if number.is_integer() and abs(number) <= MAX_EXACT_INTEGER:
        return int(number)
    return number


def to_json(
    value: struct_pb2.Value, *, max_depth: int = MAX_NESTING, max_items: int | None = None
) -> JsonValue:
    """The JSON value held by `value`.

    InvalidRequest if it, or anything in it, is unset, or if it nests arrays
    and objects more than `max_depth` deep; ValueTooLarge as soon as it holds
    more than `max_items` values (each takes at least two bytes of compact
    JSON, so `max_items` bounds the work spent on a value too large to keep).
    Walked with a stack of containers, not recursion: whatever protobuf
    parsed, this cannot exhaust the interpreter's recursion limit.
    """
    limit = max_items if max_items is not None else 2**63
    root: list[JsonValue] = []
    # Containers still to fill: its items as protobuf, the dict or list they go
    # to (with their names for an object), and its depth.
    pending: list[tuple[Any, Any, list[str] | None, int]] = [([value], root, None, 0)]
    items = 0
    while pending:
        messages, container, names, depth = pending.pop()
        items += len(messages)
        if items > limit:
            raise ValueTooLarge(f"value holds more than {limit} items: over the limit as JSON")
        for index, message in enumerate(messages):
            kind = message.WhichOneof("kind")
            if kind == "number_value":
                item: JsonValue = whole_number(message.number_value)
            elif kind == "string_value":
                item = message.string_value
            elif kind == "bool_value":
                item = message.bool_value
            elif kind == "null_value":
                item = None
            elif kind == "list_value" or kind == "struct_value":
                if depth >= max_depth:
                    raise InvalidRequest(
                        f"value nests more than {max_depth} levels of arrays and objects"
                    )
                if kind == "list_value":
                    item = []
                    pending.append((message.list_value.values, item, None, depth + 1))
                else:
                    fields = message.struct_value.fields
                    keys = sorted(fields)
                    item = {}
                    pending.append(([fields[key] for key in keys], item, keys, depth + 1))
            else:
                raise InvalidRequest(
                    "value is not set (a google.protobuf.Value needs one of its kinds)"
                )
            if names is None:
                container.append(item)
            else:
                container[names[index]] = item
    return root[0]


def from_json(document: JsonValue) -> struct_pb2.Value:
    """`document` as a `Value` (built with a stack of containers, not recursion)."""
    if type(document) is str:  # the common value, without the walk
        return struct_pb2.Value(string_value=document)
    value = struct_pb2.Value()
    pending: list[tuple[struct_pb2.Value, JsonValue]] = [(value, document)]
    while pending:
        target, item = pending.pop()
        _fill(target, item, pending)
    return value


def _fill(
    value: struct_pb2.Value,
    document: JsonValue,
    pending: list[tuple[struct_pb2.Value, JsonValue]],
) -> None:
    """Set `value` from `document`; the containers inside it are left on `pending`."""
    if isinstance(document, dict):
        fields = value.struct_value.fields
        value.struct_value.SetInParent()  # an empty object is still an object
        for name, item in document.items():
            if isinstance(item, dict | list):
                pending.append((fields[name], item))
            else:
                _set_scalar(fields[name], item)
    elif isinstance(document, list):
        items = value.list_value.values
        value.list_value.SetInParent()
        for item in document:
            if isinstance(item, dict | list):
                pending.append((items.add(), item))
            else:
                _set_scalar(items.add(), item)
    else:
        _set_scalar(value, document)


def _set_scalar(value: struct_pb2.Value, document: str | int | float | bool | None) -> None:
    # bool before int: True is an int to Python.
    if document is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(document, bool):
        value.bool_value = document
    elif isinstance(document, int | float):
        try:
            value.number_value = float(document)
        except OverflowError:
            # Only an integer put over HTTP can be beyond the range of a double.
            raise InvalidRequest(
                "value holds an integer too large for gRPC (a double); read it over HTTP"
            ) from None
    else:
        value.string_value = document
