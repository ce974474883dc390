"""The test client's own logging: every line on stderr one JSON object, with the request id."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from testclient.logs import accept_request_id, configure_logging, request_id


@pytest.mark.usefixtures("restore_logging")
def test_structlog_and_stdlib_lines_are_json_with_the_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    token = request_id.set("trace-1")
    try:
        structlog.stdlib.get_logger("testclient.runner").info("scenario finished", test="t")
        logging.getLogger("aiohttp.server").warning("from a library")
        structlog.stdlib.get_logger("testclient.runner").debug("below the level")
    finally:
        request_id.reset(token)
    structlog.stdlib.get_logger("testclient.service").info("ready")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == ["scenario finished", "from a library", "ready"]
    assert [line["request_id"] for line in lines] == ["trace-1", "trace-1", "-"]
    assert [line["logger"] for line in lines] == [
        "testclient.runner",
        "aiohttp.server",
        "testclient.service",
    ]
    assert [line["level"] for line in lines] == ["info", "warning", "info"]
    assert lines[0]["test"] == "t"
    assert all(line["time"].endswith("Z") for line in lines)


@pytest.mark.parametrize(
    ("offered", "kept"),
    [("trace-42", True), ("", False), (None, False), ("x" * 129, False), ("bad\nid", False)],
)
def test_a_request_id_is_kept_only_when_short_printable_ascii(
    offered: str | None, kept: bool
) -> None:
    accepted = accept_request_id(offered)
    assert (accepted == offered) is kept
    assert accepted
