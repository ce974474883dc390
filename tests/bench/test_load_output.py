"""bench.loads reads wrk's and h2load's output (real output of the versions Debian ships)."""

from __future__ import annotations

import pytest

from bench.loads import grpc_frame, parse_h2load, parse_wrk

WRK = """\
Running 1s test @ http://127.0.0.1:18095/v1/kv/missing
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   111.18us   49.09us   1.76ms   97.08%
    Req/Sec    18.36k     1.02k   19.75k    81.82%
  Latency Distribution
     50%  106.00us
     75%  109.00us
     90%  115.00us
     99%    1.20ms
  20027 requests in 1.10s, 3.44MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  18218.49
Transfer/sec:      3.13MB
"""

H2LOAD = """\
finished in 1.00s, 2385.00 req/s, 160.81KB/s
requests: 2385 total, 2386 started, 2385 done, 2383 succeeded, 2 failed, 0 errored, 0 timeout
status codes: 2383 2xx, 0 3xx, 0 4xx, 2 5xx
"""


def test_wrk_throughput_latency_and_every_kind_of_error() -> None:
    result = parse_wrk(WRK)
    assert result.requests_per_second == 18218.49
    assert result.p50_ms == pytest.approx(0.106)
    assert result.p99_ms == pytest.approx(1.2)
    assert result.requests == 20027
    assert result.errors == 7 + 2 + 1


def test_wrk_output_without_latency_distribution_is_refused() -> None:
    without = "\n".join(line for line in WRK.splitlines() if "%  " not in line)
    with pytest.raises(ValueError, match="wrk --latency"):
        parse_wrk(without)


def test_h2load_rate_from_its_summary_and_percentiles_from_its_request_log() -> None:
    log = "".join(f"17953090274{n:05d}\t200\t{n}000\n" for n in range(1, 101))
    result = parse_h2load(H2LOAD, log)
    assert result.requests_per_second == 2385.0
    assert (result.requests, result.errors) == (2385, 2)
    assert result.p50_ms == pytest.approx(50.5)
    assert result.p99_ms == pytest.approx(99.01)


def test_a_grpc_frame_is_flag_length_and_message() -> None:
    assert grpc_frame(b"\x0a\x01k") == b"\x00\x00\x00\x00\x03\x0a\x01k"
