"""The bare RESP ceiling answers what redis-benchmark sends, a whole read in one write."""

from __future__ import annotations

import asyncio

from bench.ceiling_resp import CeilingProtocol


class Written(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))


def command(*words: bytes) -> bytes:
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)


def connected() -> tuple[CeilingProtocol, Written]:
    protocol, transport = CeilingProtocol({}), Written()
    protocol.connection_made(transport)
    return protocol, transport


def test_every_complete_command_of_a_read_is_answered_in_order_in_one_write() -> None:
    protocol, transport = connected()
    protocol.data_received(
        command(b"CONFIG", b"GET", b"save")
        + command(b"SET", b"key:1", b"xyz")
        + command(b"GET", b"key:1")
        + command(b"GET", b"key:2")
        + command(b"PING")
        + command(b"FLUSHALL")
    )
    assert transport.writes == [
        b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n+OK\r\n$3\r\nxyz\r\n$-1\r\n+PONG\r\n"
        b"-ERR unknown command\r\n"
    ]


def test_a_command_split_across_reads_is_answered_once_it_is_whole() -> None:
    protocol, transport = connected()
    whole = command(b"SET", b"k", b"v") + command(b"GET", b"k")
    protocol.data_received(whole[:20])
    assert transport.writes == []
    protocol.data_received(whole[20:])
    assert transport.writes == [b"+OK\r\n$1\r\nv\r\n"]
