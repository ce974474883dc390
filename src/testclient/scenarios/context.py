"""ScenarioContext: what a scenario gets to work with: a client, its checks, keys of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import TypeVar

import structlog

from testclient.checks import Checks, attempt
from testclient.client import KVClient, KVClientError, NotFound, Rejected, Unavailable

T = TypeVar("T")

log = structlog.stdlib.get_logger("testclient.scenarios")

Connect = Callable[[], KVClient]
"""Opens a new client, with its own connection(s). Call it inside a running event loop."""

KEY_ROOT = "testclient"


class ScenarioContext:
    """One run of one scenario.

    Keys come from `key()` and carry the scenario's name and a run id, so runs
    may overlap; every key handed out is deleted by `clean_up()` afterwards.
    `client` and `fresh_client()` talk to the service's first replica;
    `replica_client(n)` to any of them, and `race` spreads its connections over all.
    """

    def __init__(
        self,
        name: str,
        run_id: str,
        client: KVClient,
        checks: Checks,
        connect: Connect,
        parameters: Mapping[str, str] | None = None,
        *,
        replicas: Sequence[Connect] = (),
    ) -> None:
        self.client = client
        self.checks = checks
        self.parameters: Mapping[str, str] = parameters or {}
        """Scenario parameters by name (`?seconds=5`, `--set seconds=5`); each scenario
        reads the ones it knows and ignores the rest."""
        self._connect = connect
        self._replicas = tuple(replicas) or (connect,)
        self._prefix = f"{KEY_ROOT}/{name}/{run_id}/"
        self._keys: list[str] = []

    def key(self, suffix: str) -> str:
        """A key of this run ending in `suffix`; removed by `clean_up()`."""
        return self.own(self._prefix + suffix)

    def key_of_bytes(self, suffix: str, size: int, *, filler: str = "k", ending: str = "") -> str:
        """A key of this run of exactly `size` bytes in UTF-8: `suffix`, `filler`s, `ending`."""
        head = self._prefix + suffix
        room = size - len(head.encode()) - len(ending.encode())
        if room < 0 or room % len(filler.encode()):
            raise ValueError(f"{filler!r} cannot pad {head!r} to {size} bytes")
        return self.own(head + filler * (room // len(filler.encode())) + ending)

    def own(self, key: str) -> str:
        """Remember `key` for clean-up; for keys the scenario builds itself from `key()`."""
        self._keys.append(key)
        return key

    def fresh_client(self) -> KVClient:
        """A client on a new connection; use it as `async with context.fresh_client() as c:`."""
        return self._connect()

    @property
    def replica_count(self) -> int:
        """How many replicas of the service the run was given (1: a single server)."""
        return len(self._replicas)

    def replica_client(self, index: int) -> KVClient:
        """A client on a new connection to replica `index` modulo `replica_count`, counted
        from 0 in the order configured (KV_URL, KV_GRPC_TARGET); use it with `async with`."""
        return self._replicas[index % len(self._replicas)]()

    async def race(
        self, operation: Callable[[KVClient, int], Awaitable[T]], count: int, connections: int
    ) -> list[T | KVClientError]:
        """Run `operation(client, n)` for n in range(count) at once, over `connections` new
        connections spread over the replicas; each outcome is a result or the client error
        it raised (see `attempt`)."""
        async with AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(self.replica_client(n)) for n in range(connections)
            ]
            outcomes = await asyncio.gather(
                *(attempt(operation(clients[n % connections], n)) for n in range(count)),
                return_exceptions=True,
            )
        # `attempt` returns the client errors that are findings; anything else
        # (Unavailable, a bug) is raised, once every operation has finished.
        results: list[T | KVClientError] = []
        for outcome in outcomes:
            if isinstance(outcome, KVClientError) and not isinstance(outcome, Unavailable):
                results.append(outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                results.append(outcome)
        return results

    async def clean_up(self) -> None:
        """Delete every key of this run; best effort, as the service may be the thing broken."""
        for key in dict.fromkeys(self._keys):
            try:
                await self.client.delete(key)
            except (NotFound, Rejected):
                pass  # nothing there, or a key the service refuses and so never stored
            except Unavailable as exc:
                log.info("clean-up stopped: KV service unavailable", error=str(exc))
                return
            except KVClientError as exc:
                log.warning("clean-up could not delete a key", key=key, error=str(exc))


Scenario = Callable[[ScenarioContext], Awaitable[None]]
"""A scenario: runs its KV operations and records its checks on the context."""
