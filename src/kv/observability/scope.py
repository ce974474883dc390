"""The scope of one request, the same for every transport.

A transport wraps each request it serves in `Observability.request_scope`:

    with observability.request_scope("grpc", "/kv.v1.KeyValue/Get", offered_id) as scope:
        try:
            answer = ...                            # serve it
            scope.answered("OK")
        except KVError as exc:                      # the transport's one error table
            scope.answered(status_of(exc).name, server_error=...)
        except Exception:
            scope.unexpected_error()                # logged once, with traceback and request id
            ...                                     # answer the protocol's "internal"
        # echo scope.request_id to the client

Inside the scope the request id is bound in a context variable of its own,
which the log processor `add_request_id` (logs.py) writes into every line
logged while serving it. On leaving, the request is counted
(`kv_requests`, by transport, operation and outcome) and timed, and its access
line written as `KV_ACCESS_LOG` says: every request (`all`), only server errors
and requests slower than `KV_SLOW_REQUEST_SECONDS` (`errors`), or none (`off`).

A plain (not async) context manager: nothing in it waits, and it runs for
every request of every transport. So it does only what every request needs:
one context variable set and reset, two clock reads and one histogram
update; a made-up request id is made only when something asks for it (a
line written, a transport echoing it), and the access line's fields are
gathered only when a line is written.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from types import TracebackType
from typing import Any

from kv.config import DEFAULTS
from kv.domain.errors import AccessRefused
from kv.observability.logs import bound_request, get_logger
from kv.observability.metrics import Metrics

MAX_REQUEST_ID_LENGTH = 128
CANCELLED = "cancelled"
INTERNAL = "internal"

access_log = get_logger("kv.access")
error_log = get_logger("kv.errors")
auth_log = get_logger("kv.auth")
# The detail fields in which transports give the peer's address.
PEER_DETAILS = ("remote", "peer")


class _RequestIds:
    """Made-up request ids: 32 hex digits, a random half per process and a counter.

    Unique without asking the OS for randomness on every request as uuid4
    does; they need to be unique, not unguessable (they are echoed to the
    caller who triggered them). The random half has its top bit set, so that
    the number written in hex always has its 32 digits.
    """

    def __init__(self) -> None:
        self._base = (uuid.uuid4().int >> 64 | 1 << 63) << 64
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._base + next(self._counter):x}"


new_request_id = _RequestIds()


def accept_request_id(offered: str | None) -> str:
    """The caller's request id if it is short printable ASCII, else a new one."""
    accepted = _acceptable(offered)
    return accepted if accepted is not None else new_request_id()


def _acceptable(offered: str | None) -> str | None:
    if (
        offered
        and len(offered) <= MAX_REQUEST_ID_LENGTH
        and offered.isascii()
        and offered.isprintable()
    ):
        return offered
    return None


def current_request_id() -> str:
    """The id of the request being served (inside a `request_scope`), else a new one."""
    request = bound_request.get()
    return request.request_id if request is not None else new_request_id()


class Observability:
    """What every transport does around each request: the metrics and the access-log policy."""

    def __init__(
        self,
        metrics: Metrics | None = None,
        *,
        access_log: str = DEFAULTS.access_log,
        slow_request_seconds: float = DEFAULTS.slow_request_seconds,
    ) -> None:
        """`access_log`: `all`, `errors` or `off` (`KV_ACCESS_LOG`)."""
        self.metrics = metrics if metrics is not None else Metrics()
        self.log_all = access_log == "all"
        self.log_errors = access_log in ("all", "errors")
        self.slow_request_seconds = slow_request_seconds

    def request_scope(
        self, transport: str, operation: str, offered_id: str | None, **details: object
    ) -> RequestScope:
        """The scope of one request; `details` are extra fields of its access line."""
        return RequestScope(self, transport, operation, _acceptable(offered_id), details)


class RequestScope:
    """One request being served: its id, its timer and, once answered, its outcome."""

    __slots__ = (
        "_bound",
        "_observability",
        "_request_id",
        "_started",
        "details",
        "operation",
        "outcome",
        "server_error",
        "transport",
    )

    def __init__(
        self,
        observability: Observability,
        transport: str,
        operation: str,
        request_id: str | None,
        details: dict[str, object],
    ) -> None:
        """`request_id`: the caller's, or None for one made up when first asked for."""
        self._observability = observability
        self.transport = transport
        self.operation = operation
        self._request_id = request_id
        self.details = details
        self.outcome: str | None = None
        self.server_error = False

    @property
    def request_id(self) -> str:
        """The caller's request id, or one made up (the same every time it is asked)."""
        if self._request_id is None:
            self._request_id = new_request_id()
        return self._request_id

    def answered(self, outcome: str, *, server_error: bool = False) -> None:
        """Record the answer in the protocol's own terms ("404", "NOT_FOUND").

        `server_error`: the server failed (5xx, INTERNAL, UNAVAILABLE...), not the request.
        """
        self.outcome = outcome
        self.server_error = server_error

    def unexpected_error(self) -> None:
        """Log the exception being handled (a bug) with its traceback; the outcome is internal.

        Call it from the `except` clause that answers the protocol's internal error.
        """
        error_log.exception("unexpected error", transport=self.transport, operation=self.operation)
        self.answered(INTERNAL, server_error=True)

    def refused(self, exc: AccessRefused) -> None:
        """Record a request access control turned away: one `kv.auth` line and a count.

        Written whatever KV_ACCESS_LOG says: who (the principal, or
        `anonymous`), from where, what and on which key; the error carries no
        token, so neither does the line.
        """
        peer = next((self.details[name] for name in PEER_DETAILS if name in self.details), None)
        reason = type(exc).__name__
        auth_log.warning(
            "refused",
            reason=reason,
            principal=exc.principal or "anonymous",
            peer=peer,
            transport=self.transport,
            operation=self.operation if exc.operation is None else exc.operation,
            request=self.operation,
            key=exc.key,
        )
        self._observability.metrics.observe_refusal(self.transport, reason)

    def __enter__(self) -> RequestScope:
        self._bound = bound_request.set(self)
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        seconds = time.perf_counter() - self._started
        try:
            if error is not None and self.outcome is None:
                if isinstance(error, asyncio.CancelledError):
                    self.answered(CANCELLED)
                else:  # escaped the transport's handling: a bug all the same
                    error_log.error(
                        "unexpected error",
                        exc_info=error,
                        transport=self.transport,
                        operation=self.operation,
                    )
                    self.answered(INTERNAL, server_error=True)
            outcome = self.outcome or INTERNAL
            observability = self._observability
            observability.metrics.observe_request(self.transport, self.operation, outcome, seconds)
            if observability.log_all or (
                observability.log_errors
                and (self.server_error or seconds > observability.slow_request_seconds)
            ):
                self._log_access(outcome, seconds)
        finally:
            bound_request.reset(self._bound)

    def _log_access(self, outcome: str, seconds: float) -> None:
        fields: dict[str, Any] = {
            "transport": self.transport,
            "operation": self.operation,
            "outcome": outcome,
            "duration_ms": round(seconds * 1000, 3),
            **self.details,
        }
        access_log.info("request", **fields)
