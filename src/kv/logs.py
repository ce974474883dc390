"""Structured logging: one JSON object per line, carrying the request id.

The request id lives in a context variable that each transport sets at the
start of a request, so every line logged while serving it carries the id.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import ClassVar, TextIO

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
    return _new_request_id()


class _RequestIds:
    """Made-up request ids: 32 hex digits, a random half per process and a counter.

    Unique without asking the OS for randomness on every request, as uuid4
    does (a system call, about 5% of a GET's time). The ids need to be
    unique, not unguessable: they are echoed to the caller who triggered them.
    """

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:16]
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_new_request_id = _RequestIds()
_START = time.time()


# Attributes every LogRecord has: anything else on a record came in `extra=`.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
}


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class RequestRecord(logging.LogRecord):
    """A log record made cheaply, for the one line logged per request.

    `LogRecord.__init__` looks up the thread, the process, the source file
    and module of the call: about a third of the access log's cost, for
    fields the JSON lines do not print. This record copies fixed values for
    those (formatters read them from the record's __dict__) and sets only the
    name, level, message, time and the request's own fields, so it goes
    through the logging machinery (levels, filters, handlers, caplog) like
    any other record.
    """

    fields: dict[str, object]
    _FIXED: ClassVar[dict[str, object]] = {
        "args": (),
        "levelno": logging.INFO,
        "levelname": "INFO",
        "exc_info": None,
        "exc_text": None,
        "stack_info": None,
        "pathname": "-",
        "filename": "-",
        "module": "-",
        "funcName": "-",
        "lineno": 0,
        "thread": None,
        "threadName": None,
        "process": None,
        "processName": None,
    }

    def __init__(self, logger: logging.Logger, message: str, **fields: object) -> None:
        # Deliberately not calling LogRecord.__init__ (see the class docstring).
        self.__dict__.update(self._FIXED)
        self.name = logger.name
        self.msg = message
        self.created = time.time()
        self.msecs = (self.created - int(self.created)) * 1000
        self.relativeCreated = (self.created - _START) * 1000
        self.__dict__.update(fields)
        self.fields = fields


class JsonLineFormatter(logging.Formatter):
    """A record as one JSON object: level, logger, message, request id, service, extras, time.

    The same lines python-json-logger wrote, made for the access log's hot
    path: one dict and one call into the C JSON encoder, built once (half the
    cost of the library's per-record reflection). A value JSON cannot hold is
    written as its str().
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service
        self._encoder = json.JSONEncoder(default=str)
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "service": self._service,
        }
        if type(record) is RequestRecord:
            # Its extras are known: no need to sift through every attribute.
            document.update(record.fields)
        else:
            for name, value in record.__dict__.items():
                if name not in _RECORD_ATTRIBUTES:
                    document[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exc_info"] = record.exc_text
        if record.stack_info:
            document["stack_info"] = self.formatStack(record.stack_info)
        document["time"] = self._utc_time(record.created)
        return self._encoder.encode(document)

    def _utc_time(self, created: float) -> str:
        """`datetime.fromtimestamp(created, UTC).isoformat()`, the date part made once a second.

        Same rounding as datetime (microseconds rounded half to even, carried
        into the second), so the text is the same, at a quarter of the cost.
        """
        second = int(created)
        micro = round((created - second) * 1_000_000)
        if micro == 1_000_000:
            second, micro = second + 1, 0
        if second != self._second:
            self._second = second
            self._second_text = datetime.fromtimestamp(second, UTC).isoformat()[: -len("+00:00")]
        if micro:
            return f"{self._second_text}.{micro:06d}+00:00"
        return f"{self._second_text}+00:00"


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes the lines of one event-loop iteration to the stream in one write.

    Under load one loop iteration serves many requests, each logging its
    access line; writing each line on its own is a system call per request
    (stderr is line-buffered), which cost more than all the rest of the
    logging. Lines are held only until the loop's next iteration (a
    `call_soon`), so a crash loses at most the lines of the iteration it
    happened in. Outside an event loop (a thread, start-up, exit) and from
    WARNING up, everything held is written at once with the new line.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._held: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._held.append(line)
        if record.levelno >= logging.WARNING:
            self.flush()
            return
        if len(self._held) > 1:
            return  # a write is already scheduled for the lines held
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:  # no event loop in this thread
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._held:
                lines, self._held = self._held, []
                self.stream.write("\n".join(lines) + "\n")
            super().flush()


def configure_logging(level: str, service: str) -> None:
    """Send every log line to stderr as JSON with time, level, logger, message and request id."""
    handler = BatchingStreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonLineFormatter(service))
    # The lines print none of these: skip looking them up for every record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
