"""What a command handler works with: the connection's session, and the shape of a command."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from kv.domain import KeyValueService
from kv.observability import Observability
from kv.transports.resp.replies import Reply
from kv.transports.resp.scan_cursors import ScanCursors

Arguments = list[bytes]
Handler = Callable[["Session", Arguments], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One entry of the command table: its handler, arity and the flags `COMMAND` reports.

    `arity` follows Redis, counting the command's name: `n` means exactly n
    words, `-n` at least n. The handler gets the words after the name.
    """

    handler: Handler
    arity: int
    flags: tuple[str, ...] = ()
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0

    def accepts(self, words: int) -> bool:
        """Whether a request of `words` words (name included) has this command's arity."""
        return words == self.arity if self.arity >= 0 else words >= -self.arity


@dataclass(slots=True)
class Session:
    """One client connection's state, shared by the commands it sends.

    `protocol` is 2 until the client sends `HELLO 3`; replies are encoded in it.
    `observability` gives each request its scope (request id, metrics, access line).
    """

    service: KeyValueService
    client_id: int
    commands: Mapping[bytes, CommandSpec]
    observability: Observability = field(default_factory=Observability)
    remote: str = "-"
    protocol: int = 2
    name: str | None = None
    info: dict[str, str] = field(default_factory=dict)
    quitting: bool = False
    # MULTI ... EXEC: the commands queued (None: not in MULTI), whether one was refused
    # while queueing (EXEC then aborts), and the revision of each WATCHed key (0: absent).
    # SCAN's cursors: one table for every connection of the server (scan_cursors.py).
    scans: ScanCursors = field(default_factory=ScanCursors)
    queued: list[Arguments] | None = None
    queue_refused: bool = False
    queued_bytes: int = 0  # the bytes of the queued commands' arguments
    watched: dict[str, int] = field(default_factory=dict)
