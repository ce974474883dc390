"""What bounds the HTTP server's memory and its shutdown: admission, answers, write timeout.

The request middleware (middleware.py) asks `admission_refusal` first: a
request is refused 503 (`unavailable`, with Retry-After) when the server
already serves `KV_MAX_CONCURRENT_REQUESTS` or is shutting down. A request
holds its slot while it is served, not while its answer drains to the
client: the answer is then held in the server's answer budget
(kv.transports.budget) until it is written, which `write_answer` does itself
(aiohttp then finds the response written and only logs it). So clients that
do not read hold bytes of the budget, not the slots. While the budget is
full, a request that may change something is refused 503 before it runs,
and a read whose answer would be larger than SMALL_ANSWER_BYTES is refused
503 by its handler (`check_answer_room`) once it knows the size, before the
answer is built (nothing was done either way; safe to retry). `/healthz`
and `/readyz` hold no slot (`holds_slot`).

`WriteTimeoutEnforcer` is the write timeout: a connection whose send buffer has
not shrunk for `KV_WRITE_TIMEOUT` seconds belongs to a client that does not
read, and is aborted, which ends the write that waits on it.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Iterable

from aiohttp import web

from kv.domain import Entry
from kv.domain.cursors import entry_bytes
from kv.observability import get_logger
from kv.transports.admission import Admission
from kv.transports.budget import ByteBudget

log = get_logger("kv.http")

ADMISSION = web.AppKey("admission", Admission)
ANSWERS = web.AppKey("answers", ByteBudget)
# A watch stream lasts as long as its client wants: it holds no slot; the service
# bounds open watches instead (KV_MAX_WATCHERS, shared with gRPC; a stream ends at
# shutdown). The health checks must answer however busy the server is: a liveness
# probe failing under load gets a healthy server restarted.
UNCOUNTED_PATHS = frozenset({"/v1/watch", "/healthz", "/readyz"})
# Answers this small are sent even while the answer budget is full: a status, an
# error, an entry with a small value.
SMALL_ANSWER_BYTES = 16 * 1024
READS = frozenset({"GET", "HEAD"})


def holds_slot(request: web.Request) -> bool:
    """Whether the request counts against the admission and its answer against the budget."""
    return request.path not in UNCOUNTED_PATHS


def admission_refusal(
    request: web.Request, admission: Admission, answers: ByteBudget
) -> str | None:
    """Why a request that holds a slot cannot be taken on now, or None when it can."""
    refusal = admission.refusal()
    if refusal is None and answers.held >= answers.limit and request.method not in READS:
        refusal = answers.refusal()
    return refusal


async def write_answer(
    request: web.Request, response: web.StreamResponse, answers: ByteBudget
) -> None:
    """Write `response` whole, its body held in the answer budget until it is written."""
    size = _body_size(response)
    answers.hold(size)
    try:
        await response.prepare(request)
        await response.write_eof()
    except BaseException as failure:
        # A write that fails (a client gone, the handler cancelled when its
        # connection is lost) leaves aiohttp's finished frames, which hold the
        # body in locals, in a reference cycle with the exception: only the
        # garbage collector's next full pass, which an idle server never
        # triggers, would free the body.
        traceback.clear_frames(failure.__traceback__)
        # A client gone mid-write: aiohttp's own write of it fails the same
        # way and is handled (and logged) there.
        if not isinstance(failure, ConnectionError):
            raise
    finally:
        answers.give_back(size)
        if size and isinstance(response, web.Response):
            # Written (or never to be): aiohttp keeps the last response of a
            # connection referenced while it waits for the next request, and
            # its body must not outlive the budget's count of it.
            response.body = None


def check_answer_room(request: web.Request, size: int) -> None:
    """Refuse (503, before it is built) an answer of about `size` bytes while the budget is full.

    Small answers always go: the budget bounds what clients that do not read
    can pile up, and a small answer costs little more than the refusal.
    """
    answers = request.app[ANSWERS]
    if size > SMALL_ANSWER_BYTES and answers.held >= answers.limit:
        raise web.HTTPServiceUnavailable(text=answers.refusal())


def check_entries_room(request: web.Request, entries: Iterable[Entry]) -> None:
    """`check_answer_room` for an answer that holds `entries` (sized only while the budget
    is full)."""
    answers = request.app[ANSWERS]
    if answers.held >= answers.limit:
        check_answer_room(request, sum(map(entry_bytes, entries)))


def _body_size(response: web.StreamResponse) -> int:
    body = response.body if isinstance(response, web.Response) else None
    return len(body) if isinstance(body, bytes) else 0


class WriteTimeoutEnforcer:
    """Aborts every connection of `server` whose send buffer has not shrunk for `timeout` s."""

    def __init__(self, server: web.Server, timeout: float) -> None:
        self._server = server
        self._timeout = timeout
        # Per connection: its send buffer's size when last seen, and since when
        # it has not shrunk.
        self._stuck: dict[object, tuple[int, float]] = {}

    async def run(self) -> None:
        """Check every connection a few times per timeout, until cancelled."""
        interval = min(1.0, self._timeout / 4)
        while True:
            await asyncio.sleep(interval)
            self.check(asyncio.get_running_loop().time())

    def check(self, now: float) -> None:
        stuck: dict[object, tuple[int, float]] = {}
        for connection in self._server.connections:
            transport = connection.transport
            if transport is None or transport.is_closing():
                continue
            pending = transport.get_write_buffer_size()
            if not pending:
                continue
            previous, since = self._stuck.get(connection, (pending + 1, now))
            if pending < previous:
                since = now
            if now - since >= self._timeout:
                log.warning(
                    "closing a connection that has not read its responses",
                    seconds=round(now - since, 1),
                    unsent_bytes=pending,
                    remote=str(transport.get_extra_info("peername")),
                )
                transport.abort()
                continue
            stuck[connection] = (pending, since)
        self._stuck = stuck
