"""HttpKVClient: KVClient over the REST API, on aiohttp's client."""

from __future__ import annotations

import io
import json
import ssl
import uuid
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from testclient.client import (
    AlreadyExists,
    ClosingClient,
    Compacted,
    KVClientError,
    KVEntry,
    KVEvent,
    KVPage,
    KVTxnResult,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    Rejected,
    Unavailable,
    Written,
)
from testclient.sse import EventStreamParser, ServerSentEvent

# The one place HTTP statuses, and failures before any answer, become the client's errors.
STATUS_ERRORS: dict[int, type[KVClientError]] = {
    400: Rejected,
    404: NotFound,
    409: AlreadyExists,
    410: Compacted,
    412: PreconditionFailed,
    413: Rejected,
    415: Rejected,
    503: Unavailable,
    504: OutcomeUnknown,
}
# First match wins. A connection that could not be made sent nothing; a call
# that ran out of time after connecting may have been applied, as gRPC's
# DEADLINE_EXCEEDED; a connection lost is UNAVAILABLE to gRPC, so here too.
FAILURE_ERRORS: tuple[tuple[type[BaseException], type[KVClientError]], ...] = (
    (aiohttp.ConnectionTimeoutError, Unavailable),
    (TimeoutError, OutcomeUnknown),
    (aiohttp.ClientError, Unavailable),
    (ConnectionError, Unavailable),
)
_FAILURES = tuple(kind for kind, _ in FAILURE_ERRORS)


class HttpKVClient(ClosingClient):
    """Talks to `kv-server`'s HTTP transport at `base_url` (e.g. http://localhost:8080)."""

    transport = "http"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        request_id: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`ssl_context` verifies an `https://` server (default: against the system's CAs)."""
        self._list_url = base_url.rstrip("/") + "/v1/kv"
        self._watch_url = base_url.rstrip("/") + "/v1/watch"
        self._snapshot_url = base_url.rstrip("/") + "/v1/snapshot"
        self._txn_url = base_url.rstrip("/") + "/v1/txn"
        self._connect_timeout = timeout
        self._base = self._list_url + "/"
        self._request_id = request_id
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout),
            connector=aiohttp.TCPConnector(
                limit=100, ssl=True if ssl_context is None else ssl_context
            ),
        )

    async def put(
        self,
        key: str,
        value: Any,
        *,
        expected_revision: int | None = None,
        ttl: int | None = None,
    ) -> Written:
        headers = {} if expected_revision is None else {"If-Match": f'"{expected_revision}"'}
        document = await self._call("PUT", key, _body(value, ttl), headers)
        return Written(_entry(document), bool(document["created"]))

    async def create(self, key: str, value: Any, *, ttl: int | None = None) -> KVEntry:
        return _entry(await self._call("POST", key, _body(value, ttl)))

    async def get(self, key: str) -> KVEntry:
        return _entry(await self._call("GET", key))

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KVEntry:
        headers = {} if expected_revision is None else {"If-Match": f'"{expected_revision}"'}
        return _entry(await self._call("DELETE", key, headers=headers))

    async def list(
        self,
        prefix: str = "",
        *,
        limit: int | None = None,
        cursor: str | None = None,
        keys_only: bool = False,
    ) -> KVPage:
        query: dict[str, str] = {"prefix": prefix}
        if limit is not None:
            query["limit"] = str(limit)
        if cursor is not None:
            query["cursor"] = cursor
        if keys_only:
            query["keys_only"] = "true"
        url = f"{self._list_url}?{urlencode(query, quote_via=quote, safe='')}"
        what = f"list {prefix!r}"
        document = await self._request("GET", url, what)
        try:
            entries = tuple(_listed(item, keys_only=keys_only) for item in document["entries"])
            return KVPage(entries, document["next_cursor"], int(document["revision"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise KVClientError(f"GET {what}: the page is not as the API says: {exc}") from exc

    async def txn(self, request: dict[str, Any]) -> KVTxnResult:
        return KVTxnResult.from_document(await self._request("POST", self._txn_url, "txn", request))

    async def watch(
        self,
        prefix: str = "",
        *,
        from_revision: int | None = None,
        after_revision: int | None = None,
    ) -> AsyncGenerator[KVEvent, None]:
        query = {"prefix": prefix}
        if from_revision is not None:
            query["from_revision"] = str(from_revision)
        url = f"{self._watch_url}?{urlencode(query, quote_via=quote, safe='')}"
        headers = {"X-Request-ID": self._request_id or uuid.uuid4().hex}
        if after_revision is not None:
            headers["Last-Event-ID"] = str(after_revision)
        what = f"watch {prefix!r}"
        # The stream lasts as long as the watcher wants: only connecting is timed.
        timeout = aiohttp.ClientTimeout(total=None, connect=self._connect_timeout)
        try:
            async with self._session.get(
                URL(url, encoded=True), headers=headers, timeout=timeout
            ) as response:
                if response.status >= 400:
                    document = await response.json(content_type=None)
                    error_type = STATUS_ERRORS.get(response.status, KVClientError)
                    message = document.get("error", {}).get("message", "")
                    raise error_type(f"GET {what}: {response.status} {message}")
                parser = EventStreamParser()
                async for chunk in response.content.iter_any():
                    for event in parser.feed(chunk):
                        yield _event(event, what)
        except _FAILURES as exc:
            raise Unavailable(f"GET {what}: {type(exc).__name__} {exc}".rstrip()) from exc
        except ValueError as exc:
            raise KVClientError(f"GET {what}: answer is not as the API says: {exc}") from exc

    async def snapshot(self) -> AsyncGenerator[bytes, None]:
        """The body of `GET /v1/snapshot` (JSON lines), as it arrives, in chunks (HTTP only).

        Only connecting is timed: a snapshot of a large store takes as long as
        it takes. A stream cut before its end is Unavailable, unless the
        server closed it between lines: the caller checks the end line.
        """
        headers = {"X-Request-ID": self._request_id or uuid.uuid4().hex}
        timeout = aiohttp.ClientTimeout(total=None, connect=self._connect_timeout)
        try:
            async with self._session.get(
                self._snapshot_url, headers=headers, timeout=timeout
            ) as response:
                if response.status >= 400:
                    document = await response.json(content_type=None)
                    error_type = STATUS_ERRORS.get(response.status, KVClientError)
                    message = document.get("error", {}).get("message", "")
                    raise error_type(f"GET snapshot: {response.status} {message}")
                async for chunk in response.content.iter_any():
                    yield chunk
        except _FAILURES as exc:
            raise Unavailable(f"GET snapshot: {type(exc).__name__} {exc}".rstrip()) from exc
        except ValueError as exc:
            raise KVClientError(f"GET snapshot: answer is not as the API says: {exc}") from exc

    async def close(self) -> None:
        await self._session.close()

    async def _call(
        self,
        method: str,
        key: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return await self._request(
            method, self._base + quote(key, safe=""), repr(key), body, headers
        )

    async def _request(
        self,
        method: str,
        url: str,
        what: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request to `url` (already encoded); `what` names it in error messages."""
        sent = {"X-Request-ID": self._request_id or uuid.uuid4().hex, **(headers or {})}
        data = None
        if body is not None:
            # Compact, as the server measures values, so a value at the limit
            # fits the body limit; a stream, so aiohttp does not warn that a
            # large bytes body may hold up the event loop.
            data = io.BytesIO(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
            sent["Content-Type"] = "application/json"
        try:
            async with self._session.request(
                method, URL(url, encoded=True), data=data, headers=sent
            ) as response:
                document: dict[str, Any] = await response.json(content_type=None)
                if response.status >= 400:
                    error_type = STATUS_ERRORS.get(response.status, KVClientError)
                    message = document.get("error", {}).get("message", "")
                    raise error_type(f"{method} {what}: {response.status} {message}")
                return document
        except _FAILURES as exc:
            error_type = next(error for kind, error in FAILURE_ERRORS if isinstance(exc, kind))
            problem = "cannot reach" if error_type is Unavailable else "no answer in time from"
            detail = f"{type(exc).__name__} {exc}".rstrip()
            raise error_type(f"{method} {what}: {problem} {self._base}: {detail}") from exc
        except ValueError as exc:
            raise KVClientError(f"{method} {what}: answer is not JSON: {exc}") from exc


def _body(value: Any, ttl: int | None) -> dict[str, Any]:
    return {"value": value} if ttl is None else {"value": value, "ttl": ttl}


def _entry(document: dict[str, Any]) -> KVEntry:
    ttl = document.get("ttl")
    return KVEntry(
        str(document["key"]),
        document["value"],
        int(document["revision"]),
        None if ttl is None else int(ttl),
    )


KEYS_ONLY_FIELDS = {"key", "revision"}


def _listed(document: dict[str, Any], *, keys_only: bool) -> KVEntry:
    """An entry of a page; a keys-only entry must carry the key and revision and nothing else."""
    if not keys_only:
        return _entry(document)
    if set(document) != KEYS_ONLY_FIELDS:
        raise ValueError(f"a keys_only entry has fields {sorted(document)}, not key and revision")
    return KVEntry(str(document["key"]), None, int(document["revision"]))


def _event(event: ServerSentEvent, what: str) -> KVEvent:
    """The change a Server-Sent Event reports; its id must be the revision in its data."""
    document = json.loads(event.data)
    revision = int(document["revision"])
    if event.id != str(revision) or event.event not in ("put", "delete"):
        raise ValueError(f"event {event.event!r} id {event.id!r} for revision {revision}")
    ttl = document.get("ttl")
    return KVEvent(
        event.event,
        str(document["key"]),
        revision,
        document.get("value"),
        bool(document.get("expired", False)),
        None if ttl is None else int(ttl),
    )
