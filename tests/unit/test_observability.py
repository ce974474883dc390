"""The request scope every transport uses, the access-log policy, the metrics and the log lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
import structlog
from google.protobuf import struct_pb2

from kv.bootstrap import bootstrap
from kv.config import Settings
from kv.lifecycle import serving
from kv.observability import (
    Metrics,
    Observability,
    configure_logging,
    current_request_id,
    get_logger,
)
from kv.transports import TRANSPORTS
from kv.v1 import kv_pb2, kv_pb2_grpc
from tests.servers import free_port

Lines = list[dict[str, Any]]


def access_lines(lines: Lines) -> Lines:
    return [line for line in lines if line["logger"] == "kv.access"]


def serve_one(observability: Observability, outcome: str, *, server_error: bool = False) -> None:
    with observability.request_scope("test", "op", "rid-1", path="/x") as scope:
        scope.answered(outcome, server_error=server_error)


def test_by_default_only_server_errors_and_slow_requests_have_access_lines(
    log_lines: Lines,
) -> None:
    observability = Observability()
    serve_one(observability, "200")
    serve_one(observability, "404")
    assert access_lines(log_lines) == []
    serve_one(observability, "503", server_error=True)
    [line] = access_lines(log_lines)
    assert (line["request_id"], line["outcome"], line["path"]) == ("rid-1", "503", "/x")
    assert (line["transport"], line["operation"], line["event"]) == ("test", "op", "request")
    assert line["duration_ms"] >= 0


def test_a_request_slower_than_the_threshold_has_an_access_line(log_lines: Lines) -> None:
    serve_one(Observability(slow_request_seconds=0.0), "200")
    assert [line["outcome"] for line in access_lines(log_lines)] == ["200"]


@pytest.mark.parametrize(("policy", "lines"), [("all", 2), ("off", 0)])
def test_all_logs_every_request_and_off_none(log_lines: Lines, policy: str, lines: int) -> None:
    observability = Observability(access_log=policy)
    serve_one(observability, "200")
    serve_one(observability, "500", server_error=True)
    assert len(access_lines(log_lines)) == lines


def test_the_request_id_is_bound_for_every_line_of_the_request_only(log_lines: Lines) -> None:
    observability = Observability()
    with observability.request_scope("test", "op", "rid-inner") as scope:
        get_logger("kv.test").info("inside")
        assert current_request_id() == "rid-inner"
        scope.answered("200")
    assert current_request_id() != "rid-inner"
    [line] = [line for line in log_lines if line["event"] == "inside"]
    assert line["request_id"] == "rid-inner"


def test_a_made_up_request_id_is_one_per_request_on_all_its_lines(log_lines: Lines) -> None:
    observability = Observability(access_log="all")
    scopes = []
    for _ in range(2):
        with observability.request_scope("test", "op", None) as scope:
            get_logger("kv.test").info("inside")
            scope.answered("200")
        scopes.append(scope)
    inside = [line["request_id"] for line in log_lines if line["event"] == "inside"]
    access = [line["request_id"] for line in access_lines(log_lines)]
    assert inside == access == [scope.request_id for scope in scopes]
    assert len(set(inside)) == 2


@pytest.mark.parametrize("offered", [None, "", "x" * 129, "tab\there", "caf\u00e9"])
def test_a_missing_or_unsafe_request_id_is_replaced(offered: str | None) -> None:
    with Observability().request_scope("test", "op", offered) as scope:
        scope.answered("200")
    assert scope.request_id != offered
    assert len(scope.request_id) == 32


def test_an_exception_escaping_the_scope_is_logged_once_and_counted_as_internal(
    log_lines: Lines,
) -> None:
    metrics = Metrics()
    observability = Observability(metrics)
    with (
        pytest.raises(RuntimeError),
        observability.request_scope("test", "op", "rid-bug"),
    ):
        raise RuntimeError("a bug")
    [error] = [line for line in log_lines if "exception" in line]
    assert "RuntimeError: a bug" in error["exception"]
    assert error["request_id"] == "rid-bug"
    [access] = access_lines(log_lines)
    assert access["outcome"] == "internal"
    text = metrics.render().decode()
    assert (
        'kv_request_duration_seconds_count{operation="op",outcome="internal",transport="test"} 1.0'
        in text
    )


def test_a_cancelled_request_is_no_error(log_lines: Lines) -> None:
    metrics = Metrics()
    with (
        pytest.raises(asyncio.CancelledError),
        Observability(metrics).request_scope("test", "op", None),
    ):
        raise asyncio.CancelledError
    assert log_lines == []
    assert 'outcome="cancelled"' in metrics.render().decode()


def test_store_commits_and_keys_held_are_metrics() -> None:
    metrics = Metrics()
    metrics.observe_commit(3, 0.002)
    metrics.observe_commit(1, 0.001)
    metrics.count_keys_with(lambda: 7)
    text = metrics.render().decode()
    assert "kv_store_commit_batch_size_count 2.0" in text
    assert "kv_store_commit_batch_size_sum 4.0" in text
    assert 'kv_store_commit_duration_seconds_bucket{le="0.0025"} 2.0' in text
    assert "kv_keys 7.0" in text


async def test_one_metrics_endpoint_counts_every_transport_of_the_process() -> None:
    ports = {name: free_port() for name in TRANSPORTS}
    settings = Settings(transports=("http", "grpc"), host="127.0.0.1", ports=ports)
    async with (
        serving(bootstrap(settings)),
        grpc.aio.insecure_channel(f"127.0.0.1:{ports['grpc']}") as channel,
        aiohttp.ClientSession(f"http://127.0.0.1:{ports['http']}") as http,
    ):
        stub = kv_pb2_grpc.KeyValueStub(channel)  # type: ignore[no-untyped-call]
        value = struct_pb2.Value(string_value="v")
        await stub.Put(kv_pb2.PutRequest(key="g", value=value), timeout=60)
        async with http.put("/v1/kv/h", json={"value": 1}) as response:
            assert response.status == 201
        async with http.get("/metrics") as response:
            text = await response.text()
    count = 'kv_request_duration_seconds_count{{operation="{}",outcome="{}",transport="{}"}} 1.0'
    assert count.format("/kv.v1.KeyValue/Put", "OK", "grpc") in text
    assert count.format("PUT /v1/kv/{key}", "201", "http") in text
    assert "kv_keys 2.0" in text


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restored_logging")
def test_lines_are_json_with_the_same_fields_from_structlog_and_from_logging() -> None:
    stream = io.BytesIO()
    configure_logging("INFO", "kv", stream)
    # Loggers made after configuring: module-level ones would stay bound to this stream.
    ours = structlog.get_logger(logger_name="kv.test")
    with Observability().request_scope("test", "op", "rid-json") as scope:
        ours.info("from structlog", answer=42)
        logging.getLogger("library").warning("from logging", extra={"detail": "d"})
        ours.debug("below the level")
        scope.answered("200")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    common = {"time", "level", "logger", "message", "service", "request_id"}
    assert common <= set(first)
    assert common <= set(second)
    assert (first["message"], first["logger"], first["answer"]) == ("from structlog", "kv.test", 42)
    assert (second["message"], second["logger"], second["detail"]) == (
        "from logging",
        "library",
        "d",
    )
    assert (first["level"], second["level"]) == ("info", "warning")
    assert first["request_id"] == second["request_id"] == "rid-json"
    assert first["time"].endswith("Z")


def test_request_latencies_are_a_cumulative_histogram() -> None:
    metrics = Metrics()
    for seconds in (0.0001, 0.0005, 0.003, 9.0):
        metrics.observe_request("t", "op", "OK", seconds)
    text = metrics.render().decode()
    series = 'kv_request_duration_seconds_{}{{{}operation="op",outcome="OK",transport="t"}} {}'
    for le, count in (("0.0005", 2), ("0.001", 2), ("0.005", 3), ("2.5", 3), ("+Inf", 4)):
        assert series.format("bucket", f'le="{le}",', f"{count:.1f}") in text
    assert series.format("count", "", "4.0") in text
    assert series.format("sum", "", "9.0036") in text


async def test_the_sqlite_store_reports_its_commits_and_keys(tmp_path: Path) -> None:
    ports = {name: free_port() for name in TRANSPORTS}
    settings = Settings(host="127.0.0.1", ports=ports, store="sqlite", data_dir=tmp_path)
    app = bootstrap(settings)
    async with (
        serving(app),
        aiohttp.ClientSession(f"http://127.0.0.1:{ports['http']}") as http,
    ):
        for key in ("a", "b", "c"):
            async with http.put(f"/v1/kv/{key}", json={"value": key}) as response:
                assert response.status == 201
        text = app.observability.metrics.render().decode()
    batches = next(
        line for line in text.splitlines() if line.startswith("kv_store_commit_batch_size_sum")
    )
    assert float(batches.split()[-1]) == 3.0  # three changes, in however many transactions
    assert "kv_store_commit_duration_seconds_count" in text
    assert "kv_keys 3.0" in text
