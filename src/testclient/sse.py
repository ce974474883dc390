"""A Server-Sent Events parser: bytes of a `text/event-stream` in, events out.

Follows the WHATWG event-stream format for what kv-server sends: lines end
with LF (a CR before it is dropped), `field: value` lines, comment lines that
start with `:`, an event dispatched at a blank line when it has data. Not
built on `StreamReader.readline`, whose line limit (64 KiB) is far below
the largest event (a 1 MiB value).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event: its type (`message` when unnamed), data and id (None: none given)."""

    event: str
    data: str
    id: str | None


class EventStreamParser:
    """Feed it chunks as they arrive; it returns the events each chunk completes."""

    def __init__(self) -> None:
        self._pending = b""
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        for raw in lines:
            event = self._line(raw.removesuffix(b"\r").decode("utf-8"))
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data, self._data = self._data, []
        event, self._event = self._event, ""
        if not data:
            return None
        return ServerSentEvent(event or "message", "\n".join(data), self._id)
