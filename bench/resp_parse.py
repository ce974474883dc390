"""What splitting RESP requests costs: kv's RequestReader against hiredis's Reader.

Feeds the same small SET request, one per call and 50 pipelined per call, and
prints the microseconds per request of each, as one JSON line.

    python -m bench.resp_parse [REQUESTS]
"""

from __future__ import annotations

import argparse
import json
import time

import hiredis

from kv.transports.resp.request_reader import RequestReader

REQUEST = b"*3\r\n$3\r\nSET\r\n$10\r\nkey:000001\r\n$3\r\nxxx\r\n"
PIPELINED = 50


def per_request_us(feed: object, data: bytes, calls: int, per_call: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        feed(data)  # type: ignore[operator]
    return (time.perf_counter() - started) / (calls * per_call) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", type=int, nargs="?", default=200_000)
    count = parser.parse_args().requests
    ours = RequestReader(1 << 20)
    theirs = hiredis.Reader()

    def hiredis_feed(data: bytes) -> None:
        theirs.feed(data)
        while theirs.gets() is not False:
            pass

    print(
        json.dumps(
            {
                "kv_single_us": round(per_request_us(ours.feed, REQUEST, count, 1), 2),
                "hiredis_single_us": round(per_request_us(hiredis_feed, REQUEST, count, 1), 2),
                "kv_pipelined_us": round(
                    per_request_us(ours.feed, REQUEST * PIPELINED, count // PIPELINED, PIPELINED), 2
                ),
                "hiredis_pipelined_us": round(
                    per_request_us(
                        hiredis_feed, REQUEST * PIPELINED, count // PIPELINED, PIPELINED
                    ),
                    2,
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
