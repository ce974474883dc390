"""JSON in and out of the service: orjson where it gives the same answer, else stdlib.

Used by the HTTP transport for bodies.

orjson is several times faster than the standard library, but not the same
in two ways that matter here, so it is only used where it cannot differ:

- it reads an integer beyond 64 bits as a float (silently losing digits):
  a body with a run of 19 digits or more whose document holds a float is
  read again by the standard library (digits inside a string, as in a
  value like "id-0000000000000000000001", change nothing);
- it refuses some input the standard library reads (a UTF-8 BOM, `NaN`,
  a lone surrogate escape, very deep nesting): any body orjson refuses is
  read again by the standard library, which gives the reference answer or
  error (NaN and Infinity are then refused by `parse_constant`).

Written bodies are compact UTF-8 JSON either way; an integer beyond 64 bits,
which orjson refuses to write, is written by the standard library.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# 19 digits in a row: the shortest text of an integer that may not fit 64 bits.
_LONG_DIGIT_RUN = re.compile(rb"\d{19}")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _holds_float(document: Any) -> bool:
    if type(document) is float:
        return True
    if type(document) is dict:
        return any(_holds_float(item) for item in document.values())
    if type(document) is list:
        return any(_holds_float(item) for item in document)
    return False


def read_json(body: bytes | memoryview) -> Any:
    """The document in `body`; ValueError (or RecursionError) when it is not JSON."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # the standard library decides, with its own message
    else:
        # orjson reads an integer too long for 64 bits as a float: only a
        # document that holds a float and a long run of digits may hold one
        # (a string, whatever digits it has, holds no number at all).
        if (
            type(document) is str
            or _LONG_DIGIT_RUN.search(body) is None
            or not _holds_float(document)
        ):
            return document
    return json.loads(bytes(body), parse_constant=_reject_constant)


def write_json(document: Any) -> bytes:
    """`document` as compact UTF-8 JSON (no NaN: the domain never stores one)."""
    try:
        return orjson.dumps(document)
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(
            document, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
