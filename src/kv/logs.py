"""Structured logging: one JSON object per line, carrying the request id.

The request id lives in a context variable that each transport sets at the
start of a request, so every line logged while serving it carries the id.
"""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str] = ContextVar("request_id", default="-")

REQUEST_ID_HEADER = "X-Request-ID"
GRPC_REQUEST_ID_KEY = "x-request-id"
MAX_REQUEST_ID_LENGTH = 128


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


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


def configure_logging(level: str, service: str) -> None:
    """Send every log line to stderr as JSON with time, level, logger, message and request id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        JsonFormatter(
            "{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            static_fields={"service": service},
            timestamp="time",
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
