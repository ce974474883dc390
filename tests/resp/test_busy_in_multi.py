"""A command refused as busy inside MULTI is not queued, so EXEC aborts instead of running the
rest without it (the all-or-nothing of a transaction holds under load)."""

from __future__ import annotations

import pytest

from kv.adapters.memory import InMemoryStore
from kv.domain import KeyNotFound, KeyValueService
from kv.transports.resp.commands import COMMANDS, execute
from kv.transports.resp.replies import RespError
from kv.transports.resp.session import Session
from kv.transports.resp.transactions import EXECABORT

BUSY = RespError("TRYAGAIN", "the server has no room for answers now; retry")


async def test_a_command_refused_as_busy_inside_multi_makes_exec_abort() -> None:
    service = KeyValueService(InMemoryStore())
    session = Session(service, client_id=1, commands=COMMANDS)
    assert await execute(session, [b"MULTI"]) is not None
    await execute(session, [b"SET", b"a", b"1"])
    assert await execute(session, [b"SET", b"b", b"2"], busy=BUSY) is BUSY
    assert await execute(session, [b"EXEC"]) is EXECABORT
    with pytest.raises(KeyNotFound):
        await service.get("a")  # the queued SET did not run either
