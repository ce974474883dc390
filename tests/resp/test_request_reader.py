"""RequestReader: requests split however the bytes arrive, every header checked first."""

from __future__ import annotations

import re

import pytest

from kv.transports.resp.request_reader import ProtocolError, RequestReader


def command(*words: bytes) -> bytes:
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)


def test_requests_are_the_same_whatever_the_bytes_arrive_in() -> None:
    data = command(b"SET", b"k", b"v" * 100) + b"*0\r\n" + command(b"GET", b"k\r\n") * 2
    expected = [[b"SET", b"k", b"v" * 100], [b"GET", b"k\r\n"], [b"GET", b"k\r\n"]]
    assert RequestReader(1000).feed(data) == expected
    for size in (1, 2, 3, 7, 64):
        reader = RequestReader(1000)
        requests = []
        for start in range(0, len(data), size):
            requests += reader.feed(data[start : start + size])
        assert requests == expected
        assert not reader.receiving


def test_announced_counts_the_request_through_the_word_being_received() -> None:
    reader = RequestReader(1000)
    assert reader.feed(b"*2\r\n$3\r\nSET\r\n$500\r\nab") == []
    assert reader.receiving
    assert reader.announced == len(b"*2\r\n$3\r\nSET\r\n$500\r\n") + 502
    assert reader.feed(b"x" * 498 + b"\r\n") == [[b"SET", b"ab" + b"x" * 498]]
    assert reader.announced == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"*2147483647\r\n", "invalid multibulk length"),
        (b"*4294967295\r\n", "invalid multibulk length"),
        (b"*1" + b"0" * 30, "invalid multibulk length"),
        (b"*1_0\r\n", "invalid multibulk length"),
        (b"*1\r\n$99999999999\r\n", "invalid bulk length"),
        (b"*2\r\n$3\r\nSET\r\n$990\r\n", "invalid bulk length"),
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
        (b"*1\r\n$1\r\nabc", "expected CRLF"),
        (b"PING\r\n", "expected '*', got 'P'"),
        (b"*1\r\n:1\r\n", "expected '$', got ':'"),
    ],
)
def test_a_header_beyond_the_limits_is_refused_as_soon_as_it_arrives(
    data: bytes, message: str
) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)):
        RequestReader(1000).feed(data)
