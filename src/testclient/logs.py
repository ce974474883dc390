"""The test client's logging: JSON lines on stderr through structlog, each with its request id.

Its own configuration, sharing no code with the server's: the test client
must keep working (and keep logging) when the server it checks is broken.
Lines of other libraries (aiohttp) go through the same renderer, so every
line on stderr is one JSON object with `time`, `level`, `logger`, `message`
and `request_id`.
"""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REQUEST_ID_HEADER = "X-Request-ID"
MAX_REQUEST_ID_LENGTH = 128

request_id: ContextVar[str] = ContextVar("testclient_request_id", default="-")
"""The id of the test-client request being served ("-" outside one)."""


def accept_request_id(offered: str | None) -> str:
    """The caller's request id if it is short printable ASCII, else a new one."""
    if (
        offered
        and len(offered) <= MAX_REQUEST_ID_LENGTH
        and offered.isascii()
        and offered.isprintable()
    ):
        return offered
    return uuid.uuid4().hex


def _add_request_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    event.setdefault("request_id", request_id.get())
    return event


def configure_logging(level: str) -> None:
    """Send every log line of the process to stderr as one JSON object, from `level` up."""
    stamped: list[Processor] = [
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        _add_request_id,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *stamped,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=stamped,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.EventRenamer("message"),
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
