"""The cheap logging path: batched writes, cheap request records, same JSON lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from datetime import UTC, datetime

import pytest

from kv.logs import BatchingStreamHandler, JsonLineFormatter, RequestRecord, log_request


class CountingStream(io.StringIO):
    """A text stream that counts the writes made to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def _logger(stream: CountingStream) -> logging.Logger:
    handler = BatchingStreamHandler(stream)
    handler.setFormatter(JsonLineFormatter("test"))
    logger = logging.getLogger(f"test.batching.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


async def test_lines_of_one_loop_iteration_are_written_together_in_the_next() -> None:
    stream = CountingStream()
    logger = _logger(stream)
    logger.info("one")
    logger.info("two")
    assert stream.getvalue() == ""
    await asyncio.sleep(0)
    assert stream.writes == 1
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == [
        "one",
        "two",
    ]


async def test_a_warning_is_written_at_once_with_the_lines_before_it() -> None:
    stream = CountingStream()
    logger = _logger(stream)
    logger.info("before")
    logger.warning("careful")
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == [
        "before",
        "careful",
    ]


def test_outside_an_event_loop_each_line_is_written_at_once() -> None:
    stream = CountingStream()
    _logger(stream).info("now")
    assert json.loads(stream.getvalue())["message"] == "now"


def test_a_request_record_is_a_complete_log_record() -> None:
    logger = logging.getLogger("kv.access")
    record = RequestRecord(logger, "request", request_id="r-1", status=200)
    line = json.loads(JsonLineFormatter("kv").format(record))
    assert line["logger"] == "kv.access"
    assert line["level"] == "INFO"
    assert (line["request_id"], line["status"], line["service"]) == ("r-1", 200, "kv")
    assert "time" in line
    # What pytest's caplog and the default formatters read from every record:
    default = logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s:%(filename)s:%(lineno)d %(message)s %(thread)s"
    )
    assert "INFO kv.access" in default.format(record)


@pytest.mark.parametrize(
    "created",
    [1_700_000_000.0, 1_700_000_000.9999995, 1_700_000_000.0000005, 1_763_771_000.123456, 0.25],
)
def test_the_time_is_the_isoformat_of_datetime(created: float) -> None:
    record = RequestRecord(logging.getLogger("kv.access"), "request")
    record.created = created
    line = json.loads(JsonLineFormatter("kv").format(record))
    assert line["time"] == datetime.fromtimestamp(created, UTC).isoformat()


REQUEST_FIELDS: dict[str, object] = {
    "request_id": "r-\u00e9-\ud800",
    "method": "GET",
    "path": "/v1/kv/\u00e9",
    "status": 200,
    "duration_ms": 0.125,
    "remote": "127.0.0.1",
}


def json_time(line: str) -> float:
    """The time of a JSON log line, as a timestamp."""
    return datetime.fromisoformat(json.loads(line)["time"]).timestamp()


@pytest.mark.parametrize(
    "changed",
    [
        {},
        {"request_id": 7, "remote": None, "duration_ms": float("nan")},
        {"extra": [1, 2]},
        {"service": "not-this-one"},
        {"request_id": "r-\u00e9"},
    ],
)
def test_a_request_line_written_directly_is_the_text_of_its_record(
    changed: dict[str, object],
) -> None:
    stream = CountingStream()
    logger = _logger(stream)
    fields = {**REQUEST_FIELDS, **changed}
    log_request(logger, "request", **fields)
    record = RequestRecord(logger, "request", **fields)
    record.created = json_time(stream.getvalue())
    assert stream.getvalue() == JsonLineFormatter("test").format(record) + "\n"


def test_a_request_line_reaches_every_handler_when_there_are_several() -> None:
    stream = CountingStream()
    logger = _logger(stream)
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logger.addHandler(Keep())
    log_request(logger, "request", **REQUEST_FIELDS)
    assert [(record.getMessage(), record.status) for record in seen] == [("request", 200)]  # type: ignore[attr-defined]
    assert json.loads(stream.getvalue())["status"] == 200


def test_a_request_line_is_not_written_below_the_loggers_level() -> None:
    stream = CountingStream()
    logger = _logger(stream)
    logger.setLevel(logging.WARNING)
    log_request(logger, "request", **REQUEST_FIELDS)
    assert stream.getvalue() == ""
