"""What a command handler works with: the connection's session, and the shape of a command."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kv.domain import KeyValueService, KVError, PlannedWrite, Principal, Written
from kv.observability import Observability
from kv.transports.resp.replies import Reply
from kv.transports.resp.scan_cursors import ScanCursors

Arguments = list[bytes]
Handler = Callable[["Session", Arguments], Awaitable[Reply]]


def always(args: Arguments) -> bool:
    """`Batched.applies` for a command every call of which is a plain write."""
    return True


@dataclass(frozen=True, slots=True)
class Deferred:
    """A write command planned and not yet applied: its writes, and how their results answer.

    `answer` gets one result per write, in order (kv.domain.batches), and
    returns the command's reply or raises the error the reply is made of.
    """

    writes: tuple[PlannedWrite, ...]
    answer: Callable[[Sequence[Written | KVError]], Reply]

    async def run(self, service: KeyValueService) -> Reply:
        """Apply the writes now, alone."""
        return self.answer(await service.write_batch(self.writes))


@dataclass(frozen=True, slots=True)
class Batched:
    """How a plain write command joins the batch of a pipeline (connection.py).

    `plan` validates the command and plans its writes without applying them,
    raising what the command would raise before it writes; it may not wait,
    read the store or change the session. `applies(args)`: whether these
    arguments are such a plain write (SET without GET, DEL of one key);
    the rest run through the handler, alone.
    """

    plan: Callable[[Session, Arguments], Deferred]
    applies: Callable[[Arguments], bool] = always


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One entry of the command table: its handler, arity and the flags `COMMAND` reports.

    `arity` follows Redis, counting the command's name: `n` means exactly n
    words, `-n` at least n. The handler gets the words after the name.
    `batched`: set for a plain write that a pipeline may apply in a batch.
    """

    handler: Handler
    arity: int
    flags: tuple[str, ...] = ()
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    batched: Batched | None = None

    def accepts(self, words: int) -> bool:
        """Whether a request of `words` words (name included) has this command's arity."""
        return words == self.arity if self.arity >= 0 else words >= -self.arity


@dataclass(slots=True)
class Session:
    """One client connection's state, shared by the commands it sends.

    `protocol` is 2 until the client sends `HELLO 3`; replies are encoded in it.
    `observability` gives each request its scope (request id, metrics, access line).
    `address`: the peer's IP address; `authenticated` is False until AUTH succeeds
    when access control is on, and `principal` is then who the commands run as.
    """

    service: KeyValueService
    client_id: int
    commands: Mapping[bytes, CommandSpec]
    observability: Observability = field(default_factory=Observability)
    remote: str = "-"
    address: str | None = None
    authenticated: bool = True
    principal: Principal | None = None
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
