"""`GET /v1/kv`: the query of a listing, and the JSON of the page it answers.

The API is in docs/listing-and-ttl.md ("Listing").

The query is read from the raw query string, strictly: every parameter at
most once, no parameter the API does not name (a misspelt `prefx=` would
otherwise list every key), percent-escapes that decode to UTF-8. `limit`
must be digits and `keys_only` `true` or `false`; the range of `limit` and
the cursor itself are the domain's to judge (`KeyValueService.list`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kv.domain import Entry, InvalidRequest, Page
from kv.transports.http.query import query_parameters

PARAMETERS = frozenset({"prefix", "limit", "cursor", "keys_only"})
DEFAULT_LIMIT = 100
BOOLEANS = {"true": True, "false": False}
# More digits than any limit the domain accepts needs: refused before int() reads them.
MAX_LIMIT_DIGITS = 9


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The parameters of one listing request, parsed but not yet judged by the domain."""

    prefix: str = ""
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    keys_only: bool = False

    @classmethod
    def parse(cls, raw_query: str) -> ListQuery:
        """The query of `raw_query` (still percent-encoded); InvalidRequest when malformed."""
        params = query_parameters(raw_query, PARAMETERS)
        return cls(
            prefix=params.get("prefix", ""),
            limit=_limit(params.get("limit")),
            cursor=params.get("cursor"),
            keys_only=_boolean("keys_only", params.get("keys_only", "false")),
        )


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_LIMIT_DIGITS:
        raise InvalidRequest(f"limit must be a whole number from 1 to 1000, got {raw!r}")
    return int(raw)


def _boolean(name: str, raw: str) -> bool:
    if raw not in BOOLEANS:
        raise InvalidRequest(f"{name} must be true or false, got {raw!r}")
    return BOOLEANS[raw]


def page_document(
    page: Page, *, keys_only: bool, entry_document: Callable[[Entry], dict[str, Any]]
) -> dict[str, Any]:
    """`{"entries": [...], "next_cursor": C | null, "revision": R}`.

    With `keys_only` each entry is `{"key": K, "revision": R}`; otherwise it
    is `entry_document(entry)`, the body a GET of the key would answer.
    """
    if keys_only:
        entries = [{"key": entry.key, "revision": entry.revision} for entry in page.entries]
    else:
        entries = [entry_document(entry) for entry in page.entries]
    return {"entries": entries, "next_cursor": page.next_cursor, "revision": page.revision}
