"""kv.json_codec (HTTP bodies, the in-memory store's values) answers exactly as the stdlib would."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kv.json_codec import read_json, write_json


def _stdlib(body: bytes) -> Any:
    def reject(name: str) -> None:
        raise ValueError(name)

    return json.loads(body, parse_constant=reject)


@pytest.mark.parametrize(
    "body",
    [
        b'{"value": "hello"}',
        b'{"value": 123456789012345678901234567890}',
        b'{"value": -18446744073709551617}',
        b'{"value": 9223372036854775807}',
        b'{"value": [1.5, -0.0, 1e-7, 1E+300, true, null, {"a": {}}]}',
        b'\xef\xbb\xbf{"value": 1}',
        b'{"value": "\\ud800"}',
        b'{"a": 1, "a": 2}',
        b' \n{"value": "\\u00e9\xc3\xa9"}\t',
    ],
)
def test_reads_what_the_standard_library_reads(body: bytes) -> None:
    assert repr(read_json(body)) == repr(_stdlib(body))


@pytest.mark.parametrize(
    "body",
    [
        b'"12345678901234567890123"',
        b"123456789012345678901234567890",
        b"[1.5, 123456789012345678901234567890]",
        b'{"n": 0.5, "big": -123456789012345678901234}',
    ],
)
def test_reads_a_memoryview_as_the_standard_library_reads_its_bytes(body: bytes) -> None:
    # A slice of a larger buffer is read without copying it first.
    assert repr(read_json(memoryview(b"xx" + body)[2:])) == repr(_stdlib(body))


def test_integers_beyond_64_bits_keep_every_digit() -> None:
    big = 2**70 + 1
    assert read_json(b'{"value": %d}' % big) == {"value": big}
    assert write_json({"value": big}) == b'{"value":%d}' % big


@pytest.mark.parametrize("body", [b'{"value": NaN}', b'{"value": -Infinity}', b"{", b'"\xff"'])
def test_refuses_what_is_not_json(body: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (both libraries' errors are ValueErrors)
        read_json(body)


def test_writes_compact_utf8() -> None:
    written = write_json({"key": "é/x", "value": [1, 0.5, None], "revision": 3})
    assert written == '{"key":"é/x","value":[1,0.5,null],"revision":3}'.encode()


@pytest.mark.parametrize(
    "body",
    [
        b'{"value": "value-00000000000000000000000042"}',
        b'{"value": ["value-00000000000000000000000042", 1.5]}',
        b'{"value": {"a": [18446744073709551615, 0.5, 123456789012345678901234567890]}}',
    ],
)
def test_long_digit_runs_in_strings_and_beside_floats_read_as_the_standard_library(
    body: bytes,
) -> None:
    assert repr(read_json(body)) == repr(_stdlib(body))
