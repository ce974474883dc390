"""Logging: one JSON object per line on stderr, through structlog.

Every line of ours goes through structlog (`get_logger`, fields as keyword
arguments) as its performance guide recommends: a level-filtering bound
logger cached on first use, an orjson renderer and a bytes logger. Lines of
libraries that log through the standard `logging` module (aiohttp, grpc,
asyncio) are rendered by the same processors, so every line carries the
same fields: `time`, `level`, `logger`, `message`, `service`, the
`request_id` of the request being served (`bound_request`, set by
`kv.observability.scope`; `add_request_id` writes it), and the line's own
fields.

Lines are written one at a time: the default access log (`KV_ACCESS_LOG=errors`)
writes none for a request that succeeds in time, so there are too few lines
for holding them back to write them together to pay (see docs/observability.md).
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any, BinaryIO, Protocol

import orjson
import structlog
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger


def get_logger(name: str) -> FilteringBoundLogger:
    """The structlog logger whose lines say `"logger": name`.

    A lazy proxy: it is bound (and then cached) on first use, so call it at
    import time freely; `configure_logging` must run before the first line.
    """
    # Bound as `logger_name` (`logger` is a parameter of structlog.get_logger),
    # written as `logger` by `name_the_logger`.
    logger: FilteringBoundLogger = structlog.get_logger(logger_name=name)
    return logger


def name_the_logger(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """A processor: the name `get_logger` bound, as the `logger` field of the line."""
    name = event.pop("logger_name", None)
    if name is not None:
        event["logger"] = name
    return event


class Identified(Protocol):
    """What is bound for the request being served: its id, made when first asked for."""

    @property
    def request_id(self) -> str: ...


# The request being served, set by its request scope. A context variable of
# its own rather than structlog's bound contextvars: every request sets and
# resets it, and most write no line, so its id is made only for a line.
bound_request: ContextVar[Identified | None] = ContextVar("kv_request", default=None)


def add_request_id(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """A processor: the `request_id` of the request being served, on every line logged in it."""
    request = bound_request.get()
    if request is not None:
        event.setdefault("request_id", request.request_id)
    return event


def _json_bytes(document: Any, **options: Any) -> bytes:
    return orjson.dumps(document, **options)


def _json_text(document: Any, **options: Any) -> str:
    return orjson.dumps(document, **options).decode()


def _add_service(service: str) -> Processor:
    def add_service(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        event.setdefault("service", service)
        return event

    return add_service


def configure_logging(level: str, service: str, stream: BinaryIO | None = None) -> None:
    """Send every log line at `level` (e.g. "INFO") and above to `stream` (stderr) as JSON.

    `service` names the program on every line ("kv", "testclient").
    """
    common: list[Processor] = [
        name_the_logger,
        structlog.contextvars.merge_contextvars,
        add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        _add_service(service),
    ]
    finish: list[Processor] = [
        structlog.processors.format_exc_info,
        structlog.processors.EventRenamer("message"),
    ]
    output = stream if stream is not None else sys.stderr.buffer
    structlog.configure(
        processors=[*common, *finish, structlog.processors.JSONRenderer(_json_bytes)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.BytesLoggerFactory(output),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *common,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *finish,
            structlog.processors.JSONRenderer(_json_text),
        ],
    )
    handler = _LineHandler(output)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class _LineHandler(logging.Handler):
    """Writes each `logging` record, rendered as JSON, to the stream of the structlog lines."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._stream.write(self.format(record).encode() + b"\n")
            self._stream.flush()
        except Exception:
            self.handleError(record)
