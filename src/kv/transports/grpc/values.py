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

from google.protobuf import struct_pb2

from kv.domain import InvalidRequest, JsonValue

# Every integer of at most this magnitude is exactly representable as a double.
MAX_EXACT_INTEGER = 2**53


def whole_number(number: float) -> int | float:
    """`number` as an int when it is whole and exactly representable, else unchanged."""
    if number.is_integer() and abs(number) <= MAX_EXACT_INTEGER:
        return int(number)
    return number


def to_json(value: struct_pb2.Value) -> JsonValue:
    """The JSON value held by `value`; InvalidRequest if it, or anything in it, is unset."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return whole_number(value.number_value)
    if kind == "bool_value":
        return value.bool_value
    if kind == "null_value":
        return None
    if kind == "struct_value":
        fields = value.struct_value.fields
        return {name: to_json(fields[name]) for name in sorted(fields)}
    if kind == "list_value":
        return [to_json(item) for item in value.list_value.values]
    raise InvalidRequest("value is not set (a google.protobuf.Value needs one of its kinds)")


def from_json(document: JsonValue) -> struct_pb2.Value:
    """`document` as a `Value`."""
    value = struct_pb2.Value()
    _fill(value, document)
    return value


def _fill(value: struct_pb2.Value, document: JsonValue) -> None:
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
        for name, item in document.items():
            _fill(fields[name], item)
    else:
        items = value.list_value.values
        value.list_value.SetInParent()
        for item in document:
            _fill(items.add(), item)
