"""The operations of the OpenAPI document: one entry per (method, path) the app routes.

Adding a path: its route in `create_app` and one entry in `OPERATIONS`
(tests/http/test_openapi.py checks the two both ways).
"""

from __future__ import annotations

from typing import Any

from kv.transports.http.console import CONSOLE_OPERATIONS
from kv.transports.http.openapi.schemas import JSON, SNAPSHOT_LINE, WATCH_EVENT

ERRORS = {
    400: "Invalid request: bad key, body, value or condition.",
    404: "No entry at the key.",
    409: "The key exists.",
    412: "The condition is not met.",
    413: "The value is too large.",
    415: "The body is not application/json.",
    503: "The storage cannot serve; nothing changed; safe to retry (Retry-After).",
    504: "The storage did not confirm in time: the write may or may not be applied.",
}


def _json(schema: str, description: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {JSON: {"schema": ref}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _json("Error", ERRORS[status]) for status in statuses}


def _header(name: str, pattern: str, description: str) -> dict[str, Any]:
    schema = {"type": "string", "pattern": pattern}
    return {"name": name, "in": "header", "required": False, "schema": schema,
            "description": description}  # fmt: skip


KEY = {
    "name": "key",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
    "description": "The key: everything after /v1/kv/, percent-decoded; at most 1024 bytes.",
}
IF_MATCH = _header("If-Match", r'^(\*|"[1-9][0-9]{0,17}")$', 'Only if at revision "R", or *.')
IF_NONE_MATCH = _header("If-None-Match", r"^\*$", "*: only if the key does not exist.")
# Preferences a server does not know are ignored (RFC 7240), so any text is valid.
PREFER = _header("Prefer", r"^.*$", "return=minimal: 204 without a body; others ignored.")
WRITE_BODY = {
    "required": True,
    "content": {JSON: {"schema": {"$ref": "#/components/schemas/WriteBody"}}},
}

# (method, path as the router spells it) -> the OpenAPI operation.
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/v1/kv/{key}"): {
        "summary": "Read a value",
        "parameters": [KEY],
        "responses": {"200": _json("Entry", "The entry."), **_errors(400, 404, 503)},
    },
    ("PUT", "/v1/kv/{key}"): {
        "summary": "Store a value (create or replace)",
        "parameters": [KEY, IF_MATCH, IF_NONE_MATCH],
        "requestBody": WRITE_BODY,
        "responses": {
            "200": _json("WrittenEntry", "Replaced, or unchanged (same value)."),
            "201": _json("WrittenEntry", "Created."),
            **_errors(400, 412, 413, 415, 503, 504),
        },
    },
    ("POST", "/v1/kv/{key}"): {
        "summary": "Create only",
        # If-Match asks for an entry a create never finds: 412.
        "parameters": [KEY, IF_MATCH],
        "requestBody": WRITE_BODY,
        "responses": {
            "201": _json("Entry", "Created."),
            **_errors(400, 409, 412, 413, 415, 503, 504),
        },
    },
    ("DELETE", "/v1/kv/{key}"): {
        "summary": "Delete a key",
        "parameters": [KEY, IF_MATCH, PREFER],
        "responses": {
            "200": _json("Entry", "The deleted entry."),
            "204": {"description": "Deleted (Prefer: return=minimal)."},
            **_errors(400, 404, 412, 503, 504),
        },
    },
    ("GET", "/v1/kv"): {
        "summary": "List keys by prefix, a page at a time (docs/listing-and-ttl.md)",
        "parameters": [
            {"name": "prefix", "in": "query", "schema": {"type": "string"}},
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
            },
            {"name": "cursor", "in": "query", "schema": {"type": "string"}},
            {"name": "keys_only", "in": "query", "schema": {"enum": ["true", "false"]}},
        ],
        "responses": {
            "200": _json(
                "Page",
                "A page of entries in key order: at most `limit`, and bounded in bytes, so a "
                "page of large values holds fewer. Only a null next_cursor ends the listing; "
                "an empty cursor is the first page.",
            ),
            **_errors(400, 503),
        },
    },
    ("POST", "/v1/txn"): {
        "summary": "Change several keys atomically: compares, then success or failure ops",
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Transaction"}}},
        },
        "responses": {
            "200": _json("TxnResult", "Carried out (compares met or not: see succeeded)."),
            **_errors(400, 413, 415, 503, 504),
        },
    },
    ("GET", "/v1/watch"): {
        "summary": "Follow every change under a prefix as Server-Sent Events (docs/watch.md)",
        "parameters": [
            {"name": "prefix", "in": "query", "schema": {"type": "string"}},
            {"name": "from_revision", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            _header("Last-Event-ID", r"^[0-9]{1,19}$", "Resume after this revision."),
        ],
        "responses": {
            "200": {
                "description": "The event stream: id = revision, event put|delete, data = entry.",
                # Each event (Schemathesis checks every one it reads against this).
                "content": {"text/event-stream": {"schema": WATCH_EVENT}},
            },
            "410": {
                "description": "from_revision is older than the history kept (compacted).",
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
            **_errors(400, 503),
        },
    },
    ("GET", "/v1/snapshot"): {
        "summary": "Every live entry at one revision, as JSON lines (docs/operations.md)",
        "responses": {
            "200": {
                "description": (
                    'First {"snapshot": 1, "revision": R, "entries": N}, then one entry per '
                    'line in key order, then {"end": true, "entries": N}; a stream without '
                    "the end line is incomplete."
                ),
                # One line of the stream (tests/http/test_snapshot.py checks each against it).
                "content": {"application/x-ndjson": {"schema": SNAPSHOT_LINE}},
            },
            **_errors(400, 503),
        },
    },
    ("GET", "/healthz"): {
        "summary": "Liveness",
        "responses": {"200": _json("Status", "The process serves.")},
    },
    ("GET", "/readyz"): {
        "summary": "Readiness",
        "responses": {"200": _json("Status", "Ready."), **_errors(503)},
    },
    ("GET", "/metrics"): {
        "summary": "Prometheus metrics",
        "responses": {
            "200": {
                "description": "Prometheus text format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    },
    ("GET", "/openapi.json"): {
        "summary": "This document",
        "responses": {
            "200": {
                "description": "OpenAPI 3.1.",
                "content": {JSON: {"schema": {"type": "object"}}},
            }
        },
    },
    **CONSOLE_OPERATIONS,
}
