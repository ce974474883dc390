"""Structured logging: one JSON object per line, carrying the request id.

The request id lives in a context variable that each transport sets at the
start of a request, so every line logged while serving it carries the id.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any, ClassVar, TextIO

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
        self._service_pair = f'"service": {self._encoder.encode(service)}'
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

    def format_request(self, logger: str, message: str, fields: dict[str, Any]) -> str:
        """The line `format` writes for a `RequestRecord` of these, made now, without one.

        `fields` holds the request id and the request's own fields. When they
        are all strings, numbers or None (as a request's are), the line is
        put together from pieces, each written as the standard encoder
        writes it: the same text in a sixth of the time.
        """
        request = fields.get("request_id", "-")
        pairs = _json_pairs(fields)
        request_text = _json_scalar(request)
        created = time.time()
        if pairs is None or request_text is None:
            document: dict[str, Any] = {
                "level": "INFO",
                "logger": logger,
                "message": message,
                "request_id": request,
                "service": self._service,
            }
            document.update(fields)
            document["time"] = self._utc_time(created)
            return self._encoder.encode(document)
        head = (
            f'{{"level": "INFO", "logger": {encode_basestring_ascii(logger)}, '
            f'"message": {encode_basestring_ascii(message)}, "request_id": '
        )
        return (
            f"{head}{request_text}, {self._service_pair}{pairs}, "
            f'"time": "{self._utc_time(created)}"}}'
        )

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


_JSON_KEYS: dict[str, str] = {}


def _json_scalar(value: object) -> str | None:
    """`value` as `json.JSONEncoder()` writes it, for a string, a finite number or None."""
    if type(value) is str:
        return encode_basestring_ascii(value)
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    if value is None:
        return "null"
    return None


# Fields a request line writes in other places (so not where `fields` has them).
_LINE_FIELDS = frozenset({"level", "logger", "message", "service", "time"})


def _json_pairs(fields: dict[str, Any]) -> str | None:
    """`, "name": value` for each field but the request id, as the standard encoder writes it.

    None when a value is not a scalar or a name is one the line sets itself.
    """
    pieces = []
    for name, value in fields.items():
        if name == "request_id":
            continue  # written at its place near the start of the line
        text = _json_scalar(value)
        if text is None or name in _LINE_FIELDS:
            return None
        key = _JSON_KEYS.get(name)
        if key is None:  # the few names of the request lines, made once each
            key = _JSON_KEYS.setdefault(name, f", {encode_basestring_ascii(name)}: ")
        pieces.append(key)
        pieces.append(text)
    return "".join(pieces)


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
        if record.levelno >= logging.WARNING:
            self._held.append(line)
            self.flush()
        else:
            self.emit_line(line)

    def emit_line(self, line: str) -> None:
        """Hold one formatted INFO line until the event loop's next iteration."""
        self._held.append(line)
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


def _sole_json_handler(logger: logging.Logger) -> BatchingStreamHandler | None:
    """The handler every INFO record of `logger` goes to, if it is one of ours and alone.

    That is, no logger on the way filters records and exactly one handler
    takes them: a `BatchingStreamHandler` writing `JsonLineFormatter` lines
    and filtering nothing but the request id in. Anything else (a test's
    caplog, a second handler, a filter) makes this None.
    """
    found: BatchingStreamHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return None
        for handler in current.handlers:
            if found is not None or type(handler) is not BatchingStreamHandler:
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    if (
        found is None
        or found.level > logging.INFO
        or type(found.formatter) is not JsonLineFormatter
        or any(type(kept) is not _RequestIdFilter for kept in found.filters)
    ):
        return None
    return found


def log_request(logger: logging.Logger, message: str, **fields: Any) -> None:
    """Log the one INFO line of a served request: `fields` (with its request_id) after the usual.

    Where `configure_logging` set logging up, the line is formatted from
    the fields and handed to the handler: no record and no trip through
    the logging machinery (locks, filters, the handler chain), which cost
    more than the rest of the line. Anywhere else (a test's caplog, another
    handler or a filter on the way) a `RequestRecord` goes through logging
    as any record does. Either way the line is the same.
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _sole_json_handler(logger)
    if handler is None:
        logger.handle(RequestRecord(logger, message, **fields))
        return
    formatter = handler.formatter
    assert isinstance(formatter, JsonLineFormatter)
    try:
        line = formatter.format_request(logger.name, message, fields)
    except Exception:
        handler.handleError(RequestRecord(logger, message, **fields))
        return
    handler.emit_line(line)


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
