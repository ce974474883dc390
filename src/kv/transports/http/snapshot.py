"""`GET /v1/snapshot`: every live entry at one revision, as JSON lines (`application/x-ndjson`).

    {"snapshot": 1, "revision": R, "entries": N}
    {"key": K, "value": V, "revision": RK}        one line per entry, in key order;
    ...                                           plus "ttl": the seconds it had left
    {"end": true, "entries": N}

Writes go on while it streams; none made after R shows. Errors found before
the stream starts are answered as JSON (a 503 when the store cannot take a
snapshot). Once it has started, a failure (the storage lost midway) ends
the connection without the end line: a stream without it is incomplete.

Memory stays bounded whatever the store's size: the entries are read a page
at a time, and their lines written in pieces of about PIECE_BYTES, each
write waiting while the connection's buffer is full (aiohttp drains it), so
a slow reader slows the snapshot down instead of piling it up in memory; a
reader that takes nothing is cut off by the write timeout. Each piece is
held in the server's answer budget while it is written, and a snapshot is
refused 503 before it starts while that budget is full (limits.py).
"""

from __future__ import annotations

from aiohttp import web

from kv.domain import Entry, KeyValueService, KVError, Snapshot
from kv.json_codec import write_json
from kv.observability import current_request_id, get_logger
from kv.transports.budget import ByteBudget
from kv.transports.http.errors import REQUEST_ID_HEADER
from kv.transports.http.limits import ANSWERS, check_answer_room
from kv.transports.http.query import query_parameters

CONTENT_TYPE = "application/x-ndjson"
FORMAT_VERSION = 1
PIECE_BYTES = 64 * 1024

log = get_logger("kv.http")


def _entry_line(snapshot: Snapshot, entry: Entry) -> bytes:
    line = [b'{"key":', write_json(entry.key), b',"value":', write_json(entry.value)]
    line += [b',"revision":', str(entry.revision).encode()]
    ttl = snapshot.ttl_left(entry)
    if ttl is not None:
        line += [b',"ttl":', str(ttl).encode()]
    line.append(b"}\n")
    return b"".join(line)


async def stream_snapshot(request: web.Request, service: KeyValueService) -> web.StreamResponse:
    """Answer a snapshot: 200 and every entry as a line, then the end line."""
    query_parameters(request.rel_url.raw_query_string, frozenset())  # it takes none
    check_answer_room(request, PIECE_BYTES)
    answers = request.app[ANSWERS]
    async with await service.snapshot() as snapshot:
        response = web.StreamResponse(
            headers={
                "Content-Type": CONTENT_TYPE,
                "Cache-Control": "no-store",
                REQUEST_ID_HEADER: current_request_id(),
            }
        )
        await response.prepare(request)
        header = {"snapshot": FORMAT_VERSION, "revision": snapshot.revision}
        header["entries"] = snapshot.entries
        try:
            await _send(response, answers, write_json(header) + b"\n")
            piece: list[bytes] = []
            size = 0
            async for page in snapshot.pages():
                for entry in page:
                    line = _entry_line(snapshot, entry)
                    piece.append(line)
                    size += len(line)
                    if size >= PIECE_BYTES:
                        await _send(response, answers, b"".join(piece))
                        piece, size = [], 0
            piece.append(write_json({"end": True, "entries": snapshot.entries}) + b"\n")
            await _send(response, answers, b"".join(piece))
        except KVError as exc:
            log.warning("snapshot ended before its last entry", error=str(exc))
            _cut(request)
        except (ConnectionError, TimeoutError):
            _cut(request)  # the client left, or took nothing for the write timeout
    return response


async def _send(response: web.StreamResponse, answers: ByteBudget, piece: bytes) -> None:
    """Write `piece`, held in the answer budget until the write has returned."""
    answers.hold(len(piece))
    try:
        await response.write(piece)
    finally:
        answers.give_back(len(piece))


def _cut(request: web.Request) -> None:
    """End the connection: the client sees a stream without its end line."""
    if request.transport is not None:
        request.transport.close()
