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
  error (NaN and Infinity are then refused by `parse_constant`), once a
  scan without recursion (`nesting_depth`) has found it at most MAX_DEPTH
  deep.

Written bodies are compact UTF-8 JSON either way; an integer beyond 64 bits,
which orjson refuses to write, is written by the standard library.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import orjson

# 19 digits in a row: the shortest text of an integer that may not fit 64 bits.
_LONG_DIGIT_RUN = re.compile(rb"\d{19}")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


# The interpreter's own bound on converting digits (`sys.get_int_max_str_digits`),
# refused here in words of this API rather than the interpreter's.
_MAX_DIGITS = 4300


def _whole_number(digits: str) -> int:
    if len(digits.lstrip("-")) > _MAX_DIGITS:
        raise ValueError(f"a number of {len(digits)} digits; at most {_MAX_DIGITS} are read")
    return int(digits)


def _holds_float(document: Any) -> bool:
    """Whether a float is anywhere in `document` (walked without recursion: it may be deep)."""
    pending = [document]
    while pending:
        item = pending.pop()
        if type(item) is float:
            return True
        if type(item) is dict:
            pending.extend(item.values())
        elif type(item) is list:
            pending.extend(item)
    return False


# A JSON string (escapes included), and every byte that is not a bracket.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def nesting_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in the JSON text `body`, without parsing it.

    Brackets inside strings do not count. Linear, and without recursion, so
    it can bound a document before a recursive parser reads it.
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


# The deepest document read: far below the interpreter's recursion limit
# (1000 frames), which the standard library's parser spends one per level
# of; the domain's own limit on values is far lower still.
MAX_DEPTH = 512


def read_json(body: bytes | memoryview, *, max_depth: int = MAX_DEPTH) -> Any:
    """The document in `body`; ValueError when it is not JSON or nests beyond `max_depth`.

    orjson refuses documents nested beyond 1024 levels by itself, without
    recursing in Python; the standard library, which reads what orjson
    refuses, recurses once per level, so a body is measured before it gets
    there.
    """
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
    body = bytes(body)
    if nesting_depth(body) > max_depth:
        raise ValueError(f"document nests more than {max_depth} levels of arrays and objects")
    return json.loads(body, parse_constant=_reject_constant, parse_int=_whole_number)


def write_json(document: Any) -> bytes:
    """`document` as compact UTF-8 JSON (no NaN: the domain never stores one)."""
    try:
        return orjson.dumps(document)
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(
            document, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
