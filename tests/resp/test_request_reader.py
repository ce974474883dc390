"""RequestReader: requests split however the bytes arrive, every header checked first."""

from __future__ import annotations

import random
import re

import hiredis
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


def test_a_pipeline_of_small_requests_reads_as_its_requests_one_by_one() -> None:
    """Whole small requests are read together; anything else after them, as it would alone."""
    small = command(b"SET", b"key", b"value") + command(b"GET", b"key")
    unusual = [
        command(b"SET", b"k", b"a\r\nb"),  # a word holding CRLF
        b"*2\r\n$03\r\nGET\r\n$1\r\nk\r\n",  # a length written with a leading 0
        command(b"SET", b"k", b"v" * 2000),  # a word longer than the small ones
        command(*[b"k"] * 100),  # more words than a small request
        b"*0\r\n",  # no request
    ]
    for tail in unusual:
        data = small * 3 + tail + small
        expected = [*RequestReader(10_000).feed(small) * 3]
        expected += RequestReader(10_000).feed(tail) + RequestReader(10_000).feed(small)
        assert RequestReader(10_000).feed(data) == expected
        reader = RequestReader(10_000)
        assert reader.feed(data[:-3]) + reader.feed(data[-3:]) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (command(b"GET", b"k") + b"*2\r\n$3\r\nGET\r\n$1\r\nkk\r\n", "expected CRLF"),
        (command(b"GET", b"k") + b"*1\r\n$x\r\n", "invalid bulk length"),
        (command(b"GET", b"k") + command(b"GET", b"k" * 30), "invalid bulk length"),  # too long
    ],
)
def test_a_wrong_request_after_small_ones_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        RequestReader(40).feed(data)


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


def test_unauthenticated_requests_are_handed_out_one_at_a_time() -> None:
    reader = RequestReader(1 << 20)
    reader.unauthenticated = True
    large = b"v" * 100_000
    data = command(b"AUTH", b"token") + command(b"SET", b"k", large) + command(b"GET", b"k")
    assert reader.feed(data) == [[b"AUTH", b"token"]]
    # What follows is kept unparsed: its word past the tighter limit is no error yet.
    reader.unauthenticated = False
    assert reader.feed(b"") == [[b"SET", b"k", large], [b"GET", b"k"]]
    assert not reader.receiving


def test_kept_bytes_are_parsed_behind_what_was_held() -> None:
    reader = RequestReader(1000)
    reader.unauthenticated = True
    data = command(b"PING") * 3
    assert reader.feed(data[:20]) == [[b"PING"]]
    reader.keep(data[20:])
    assert reader.feed(b"") == [[b"PING"]]
    assert reader.feed(b"") == [[b"PING"]]
    assert reader.feed(b"") == []
    assert not reader.receiving


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"*11\r\n", "unauthenticated multibulk length"),
        (b"*2147483647\r\n", "unauthenticated multibulk length"),
        (b"*2\r\n$3\r\nSET\r\n$16385\r\n", "unauthenticated bulk length"),
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
    ],
)
def test_unauthenticated_requests_have_redis_tighter_limits(data: bytes, message: str) -> None:
    reader = RequestReader(1 << 20)
    reader.unauthenticated = True
    with pytest.raises(ProtocolError, match=re.escape(message)):
        reader.feed(data)
    # At the limits, and past them once authenticated: taken.
    largest = [b"x" * 16384] * 10
    reader = RequestReader(1 << 20)
    reader.unauthenticated = True
    assert reader.feed(command(*largest)) == [largest]
    eleven, longer = [b"x"] * 11, [b"SET", b"k", b"v" * 16385]
    assert RequestReader(1 << 20).feed(command(*eleven) + command(*longer)) == [eleven, longer]


def test_requests_are_those_hiredis_reads_whatever_their_words_and_however_they_arrive() -> None:
    """Pipelines of small and less small requests, words holding CR and LF, cut anywhere."""
    rng = random.Random(7)
    for _ in range(200):
        data = b"".join(
            command(
                *(
                    bytes(rng.choice(b"ab\r\n") for _ in range(rng.choice((0, 1, 3, 40, 1100))))
                    for _ in range(rng.choice((1, 2, 3, 70)))
                )
            )
            for _ in range(rng.randint(1, 12))
        )
        reference = hiredis.Reader()
        reference.feed(data)
        expected = list(iter(reference.gets, False))
        reader = RequestReader(1_000_000)
        cuts = sorted(rng.sample(range(1, len(data)), min(3, len(data) - 1)))
        requests = []
        for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
            requests += reader.feed(data[start:end])
        assert requests == expected
        assert RequestReader(1_000_000).feed(data) == expected
