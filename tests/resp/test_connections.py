"""The wire itself: RESP3 after HELLO, pipelining, malformed and oversized input, idle, drain."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import hiredis

from kv.transports.resp import RespTransport
from tests.inprocess import Served, serve_in_process

# Generous: the machine is shared; nothing here measures time.
DEADLINE = 30.0


def command(*words: str | bytes) -> bytes:
    encoded = [word.encode() if isinstance(word, str) else word for word in words]
    return b"*%d\r\n" % len(encoded) + b"".join(
        b"$%d\r\n%s\r\n" % (len(word), word) for word in encoded
    )


class Wire:
    """A raw connection to the RESP listener, with hiredis reading the replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.replies = hiredis.Reader(replyError=lambda message: ("error", message))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self) -> object:
        async with asyncio.timeout(DEADLINE):
            while (reply := self.replies.gets()) is False:
                data = await self.reader.read(65536)
                assert data, "the server closed the connection before replying"
                self.replies.feed(data)
        return reply

    async def closed_by_server(self) -> bool:
        """Read until the server closes (True), dropping what comes."""
        async with asyncio.timeout(DEADLINE):
            try:
                while await self.reader.read(65536):
                    pass
            except ConnectionResetError:
                pass
        return True


@asynccontextmanager
async def wire(served: Served) -> AsyncIterator[Wire]:
    port = served.settings.ports["resp"]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield Wire(reader, writer)
    finally:
        writer.close()


async def test_hello_3_switches_to_resp3(served: Served) -> None:
    async with wire(served) as client:
        await client.send(command("GET", "missing"))
        assert await client.reply() is None
        await client.send(command("HELLO", "3"))
        client.replies = hiredis.Reader()  # RESP3 from here; raw bytes checked below
        data = await client.reader.readuntil(b"modules\r\n*0\r\n")
        assert data.startswith(b"%7\r\n")
        await client.send(command("GET", "missing"))
        assert await client.reader.readexactly(3) == b"_\r\n"


async def test_a_long_pipeline_is_answered_in_order(served: Served) -> None:
    # More than a connection keeps parsed at once: it stops reading, then resumes.
    count = 3000
    async with wire(served) as client:
        await client.send(b"".join(command("ECHO", str(n)) for n in range(count)))
        replies = [await client.reply() for _ in range(count)]
    assert replies == [str(n).encode() for n in range(count)]


async def test_input_that_is_not_a_request_is_refused_then_closed(served: Served) -> None:
    for garbage in (b":1\r\n", b"PING\r\n", b"*1\r\n*1\r\n$1\r\na\r\n"):
        async with wire(served) as client:
            await client.send(garbage)
            reply = await client.reply()
            assert isinstance(reply, tuple)
            assert reply[1].startswith("ERR Protocol error")
            assert await client.closed_by_server()


async def test_a_request_over_the_input_bound_is_refused_and_the_server_serves_on() -> None:
    async with serve_in_process("resp", max_value_bytes=1000) as served:
        async with wire(served) as client:
            await client.send(command("SET", "k", "x" * (1024 * 1024)))
            reply = await client.reply()
            assert isinstance(reply, tuple)
            assert "Protocol error: invalid bulk length" in reply[1]
            assert await client.closed_by_server()
        async with wire(served) as client:
            await client.send(command("SET", "k", "x" * 2000))
            reply = await client.reply()
            assert isinstance(reply, tuple)
            assert reply[1].startswith("ERR value is")
            await client.send(command("PING"))
            assert await client.reply() == b"PONG"


async def test_an_idle_connection_is_closed() -> None:
    async with serve_in_process("resp", idle_timeout=0.3) as served, wire(served) as client:
        await client.send(command("PING"))
        assert await client.reply() == b"PONG"
        assert await client.closed_by_server()


async def test_quit_answers_then_closes(served: Served) -> None:
    async with wire(served) as client:
        await client.send(command("QUIT") + command("PING"))
        assert await client.reply() == b"OK"
        assert await client.closed_by_server()


async def test_drain_answers_what_was_received_then_closes(served: Served) -> None:
    count = 500
    async with wire(served) as client:
        await client.send(b"".join(command("SET", f"k{n}", "v") for n in range(count)))
        assert await client.reply() == b"OK"
        served.app.transports[0].drain()
        replies = [await client.reply() for _ in range(count - 1)]
        assert replies == [b"OK"] * (count - 1)
        assert await client.closed_by_server()


async def test_a_client_that_does_not_read_its_replies_is_disconnected() -> None:
    async with serve_in_process("resp", write_timeout=0.5) as served:
        transport = served.app.transports[0]
        assert isinstance(transport, RespTransport)
        async with wire(served) as client:
            await client.send(command("SET", "big", "x" * 500_000))
            assert await client.reply() == b"OK"
            # 50 MB of replies asked for, none read: the server must give up on the client.
            await client.send(command("GET", "big") * 100)
            for _ in range(int(DEADLINE / 0.05)):
                if not transport.connections:
                    break
                await asyncio.sleep(0.05)
            assert transport.connections == 0
