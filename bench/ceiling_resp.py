"""The RESP ceiling: a bare uvloop + hiredis server doing kv-server's dict work and nothing else.

A dict of bytes; each read runs every complete command that has arrived and
answers them all in one write, as Redis does. SET, GET, PING and CONFIG GET
(which redis-benchmark asks first) are enough for redis-benchmark. No domain,
validation, revisions, limits or logging: what Python itself can serve over
RESP on this machine. `bench/run.py` starts it beside kv-server and
redis-server so that the three are compared in one run.

    python -m bench.ceiling_resp PORT
"""

from __future__ import annotations

import asyncio
import signal
import sys

import hiredis

from kv.server import run_event_loop


class CeilingProtocol(asyncio.Protocol):
    def __init__(self, entries: dict[bytes, bytes]) -> None:
        self._entries = entries
        self._reader = hiredis.Reader()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        answers = []
        while (command := self._reader.gets()) is not False:
            answers.append(self._answer(command))
        if answers and self._transport is not None:
            self._transport.write(b"".join(answers))

    def _answer(self, command: list[bytes]) -> bytes:
        name = command[0].upper()
        if name == b"SET":
            self._entries[command[1]] = command[2]
            return b"+OK\r\n"
        if name == b"GET":
            value = self._entries.get(command[1])
            return b"$-1\r\n" if value is None else b"$%d\r\n%s\r\n" % (len(value), value)
        if name == b"PING":
            return b"+PONG\r\n"
        if name == b"CONFIG" and len(command) == 3:  # CONFIG GET name: the name, an empty value
            return b"*2\r\n$%d\r\n%s\r\n$0\r\n\r\n" % (len(command[2]), command[2])
        return b"-ERR unknown command\r\n"


async def serve(port: int) -> None:
    """Serve on 127.0.0.1:`port` until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    entries: dict[bytes, bytes] = {}
    server = await loop.create_server(lambda: CeilingProtocol(entries), "127.0.0.1", port)
    await stop.wait()
    server.close()


def main() -> None:
    run_event_loop(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
