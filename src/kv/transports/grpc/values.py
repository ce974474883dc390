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
    Walked with a stack, not recursion: whatever protobuf parsed, this cannot
    exhaust the interpreter's recursion limit.
    """
    root: list[JsonValue] = [None]
    # (message, where its JSON goes: a list and index or a dict and key, its depth)
    pending: list[tuple[struct_pb2.Value, Any, Any, int]] = [(value, root, 0, 0)]
    items = 0
    while pending:
        message, parent, slot, depth = pending.pop()
        items += 1
        if max_items is not None and items > max_items:
            raise ValueTooLarge(
                f"value holds more than {max_items} items: over the limit as compact JSON"
            )
        kind = message.WhichOneof("kind")
        if kind == "string_value":
            parent[slot] = message.string_value
        elif kind == "number_value":
            parent[slot] = whole_number(message.number_value)
        elif kind == "bool_value":
            parent[slot] = message.bool_value
        elif kind == "null_value":
            parent[slot] = None
        elif kind == "struct_value" or kind == "list_value":
            if depth >= max_depth:
                raise InvalidRequest(
                    f"value nests more than {max_depth} levels of arrays and objects"
                )
            if kind == "struct_value":
                fields = message.struct_value.fields
                names = sorted(fields)
                container: Any = dict.fromkeys(names)  # keys in order, values filled below
                pending.extend((fields[name], container, name, depth + 1) for name in names)
            else:
                values = message.list_value.values
                container = [None] * len(values)
                pending.extend(
                    (item, container, index, depth + 1) for index, item in enumerate(values)
                )
            parent[slot] = container
        else:
            raise InvalidRequest(
                "value is not set (a google.protobuf.Value needs one of its kinds)"
            )
    return root[0]


def from_json(document: JsonValue) -> struct_pb2.Value:
    """`document` as a `Value` (built with a stack, not recursion)."""
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
    """Set `value` from `document`; the items of a container are left on `pending`."""
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
    elif isinstance(document, str):
        value.string_value = document
    elif isinstance(document, dict):
        fields = value.struct_value.fields
        value.struct_value.SetInParent()  # an empty object is still an object
        pending.extend((fields[name], item) for name, item in document.items())
    else:
        items = value.list_value.values
        value.list_value.SetInParent()
        pending.extend((items.add(), item) for item in document)
