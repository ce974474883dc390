"""The schemas of the OpenAPI document: `components/schemas`, and one event of a watch stream."""

from __future__ import annotations

from typing import Any

JSON = "application/json"

SCHEMAS: dict[str, Any] = {
    "Value": {"description": "Any JSON value, nested at most 32 levels deep."},
    "Entry": {
        "type": "object",
        "required": ["key", "value", "revision"],
        "properties": {
            "key": {"type": "string"},
            "value": {"$ref": "#/components/schemas/Value"},
            "revision": {"type": "integer", "minimum": 1},
            "ttl": {"type": "integer", "minimum": 1},
        },
    },
    "WrittenEntry": {
        "allOf": [{"$ref": "#/components/schemas/Entry"}],
        "required": ["created"],
        "properties": {"created": {"type": "boolean"}},
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "enum": [
                            "invalid_request",
                            "not_found",
                            "method_not_allowed",
                            "already_exists",
                            "precondition_failed",
                            "payload_too_large",
                            "unsupported_media_type",
                            "unavailable",
                            "outcome_unknown",
                            "compacted",
                            "internal",
                        ]
                    },
                    "message": {"type": "string"},
                },
            }
        },
    },
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}},
    },
    "WriteBody": {
        "type": "object",
        "required": ["value"],
        "properties": {
            "value": {"$ref": "#/components/schemas/Value"},
            "ttl": {"type": "integer", "minimum": 1, "maximum": 31536000},
        },
        "additionalProperties": False,
    },
    "Page": {
        "type": "object",
        "required": ["entries", "next_cursor", "revision"],
        "properties": {
            # An Entry, or with keys_only=true just its key and revision.
            "entries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "revision"],
                    "properties": {
                        "key": {"type": "string"},
                        "value": {"$ref": "#/components/schemas/Value"},
                        "revision": {"type": "integer", "minimum": 1},
                        "ttl": {"type": "integer", "minimum": 1},
                    },
                },
            },
            "next_cursor": {"type": ["string", "null"]},
            "revision": {"type": "integer", "minimum": 0},
        },
    },
    "Transaction": {
        "type": "object",
        "properties": {
            "compare": {
                "type": "array",
                "maxItems": 128,
                "items": {
                    "type": "object",
                    "required": ["key"],
                    "properties": {
                        "key": {"type": "string", "minLength": 1},
                        "revision": {"type": "integer", "minimum": 0},
                        "value": {"$ref": "#/components/schemas/Value"},
                        "exists": {"type": "boolean"},
                    },
                    "additionalProperties": False,
                },
            },
            "success": {"$ref": "#/components/schemas/TxnOps"},
            "failure": {"$ref": "#/components/schemas/TxnOps"},
        },
        "additionalProperties": False,
    },
    "TxnOps": {
        "type": "array",
        "maxItems": 128,
        "items": {
            "type": "object",
            "required": ["op", "key"],
            "properties": {
                "op": {"enum": ["put", "delete", "get"]},
                "key": {"type": "string", "minLength": 1},
                "value": {"$ref": "#/components/schemas/Value"},
                "ttl": {"type": "integer", "minimum": 1, "maximum": 31536000},
            },
            "additionalProperties": False,
        },
    },
    "TxnResult": {
        "type": "object",
        "required": ["succeeded", "revision", "results"],
        "properties": {
            "succeeded": {"type": "boolean"},
            "revision": {"type": "integer", "minimum": 0},
            # put {key, revision, created}; delete {key, deleted}; get an Entry or {key, found}.
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key"],
                    "properties": {
                        "key": {"type": "string"},
                        "value": {"$ref": "#/components/schemas/Value"},
                        "revision": {"type": "integer", "minimum": 0},
                        "ttl": {"type": "integer", "minimum": 1},
                        "created": {"type": "boolean"},
                        "deleted": {"type": "boolean"},
                        "found": {"const": False},
                    },
                },
            },
        },
    },
}

WATCH_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[1-9][0-9]*$", "description": "The revision."},
        "event": {"enum": ["put", "delete"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "The entry as JSON; a delete has no value, an expiry adds expired.",
        },
    },
}

SNAPSHOT_LINE: dict[str, Any] = {
    "description": "One line of a snapshot: its header, an entry, or its end.",
    "oneOf": [
        {
            "type": "object",
            "required": ["snapshot", "revision", "entries"],
            "properties": {
                "snapshot": {"const": 1},
                "revision": {"type": "integer", "minimum": 0},
                "entries": {"type": "integer", "minimum": 0},
            },
            "additionalProperties": False,
        },
        {"$ref": "#/components/schemas/Entry"},
        {
            "type": "object",
            "required": ["end", "entries"],
            "properties": {
                "end": {"const": True},
                "entries": {"type": "integer", "minimum": 0},
            },
            "additionalProperties": False,
        },
    ],
}
