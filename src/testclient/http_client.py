"""HttpKVClient: KVClient over the REST API, on aiohttp's client."""

from __future__ import annotations

import io
import json
import ssl
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from testclient.client import (
    ClosingClient,
    KVClientError,
    KVEntry,
    KVEvent,
    KVPage,
    KVTxnResult,
    Unavailable,
    Written,
)
from testclient.http_answers import (
    FAILURE_ERRORS,
    STATUS_ERRORS,
    entry_of,
    event_of,
    listed_entry,
    request_body,
)
from testclient.retry import send_write
from testclient.sse import EventStreamParser

_FAILURES = tuple(kind for kind, _ in FAILURE_ERRORS)
IDEMPOTENCY_KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


class HttpKVClient(ClosingClient):
    """Talks to `kv-server`'s HTTP transport at `base_url` (e.g. http://localhost:8080)."""

    transport = "http"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        request_id: str | None = None,
        token: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`ssl_context` verifies an `https://` server (default: against the system's CAs).
        `token`: sent as `Authorization: Bearer TOKEN` on every request."""
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
            headers={} if token is None else {"Authorization": f"Bearer {token}"},
        )

    async def put(
        self,
        key: str,
        value: Any,
        *,
        expected_revision: int | None = None,
        ttl: int | None = None,
        idempotency_key: str | None = None,
    ) -> Written:
        headers = {} if expected_revision is None else {"If-Match": f'"{expected_revision}"'}

        async def attempt(once: str | None) -> tuple[Written, bool]:
            document, replayed = await self._write(
                "PUT", key, request_body(value, ttl), headers, once
            )
            return Written(entry_of(document), bool(document["created"])), replayed

        return await send_write(idempotency_key, attempt)

    async def create(
        self, key: str, value: Any, *, ttl: int | None = None, idempotency_key: str | None = None
    ) -> KVEntry:
        async def attempt(once: str | None) -> tuple[KVEntry, bool]:
            document, replayed = await self._write("POST", key, request_body(value, ttl), {}, once)
            return entry_of(document), replayed

        return await send_write(idempotency_key, attempt)

    async def get(self, key: str) -> KVEntry:
        return entry_of(await self._call("GET", key))

    async def delete(
        self,
        key: str,
        *,
        expected_revision: int | None = None,
        idempotency_key: str | None = None,
    ) -> KVEntry:
        headers = {} if expected_revision is None else {"If-Match": f'"{expected_revision}"'}

        async def attempt(once: str | None) -> tuple[KVEntry, bool]:
            document, replayed = await self._write("DELETE", key, None, headers, once)
            return entry_of(document), replayed

        return await send_write(idempotency_key, attempt)

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
            entries = tuple(listed_entry(item, keys_only=keys_only) for item in document["entries"])
            return KVPage(entries, document["next_cursor"], int(document["revision"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise KVClientError(f"GET {what}: the page is not as the API says: {exc}") from exc

    async def txn(
        self, request: dict[str, Any], *, idempotency_key: str | None = None
    ) -> KVTxnResult:
        async def attempt(once: str | None) -> tuple[KVTxnResult, bool]:
            sent = {} if once is None else {IDEMPOTENCY_KEY: once}
            document, replayed = await self._exchange("POST", self._txn_url, "txn", request, sent)
            return KVTxnResult.from_document(document), replayed

        return await send_write(idempotency_key, attempt)

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
        parser = EventStreamParser()
        async with aclosing(self._stream(URL(url, encoded=True), headers, what)) as chunks:
            try:
                async for chunk in chunks:
                    for event in parser.feed(chunk):
                        yield event_of(event, what)
            except ValueError as exc:
                raise KVClientError(f"GET {what}: answer is not as the API says: {exc}") from exc

    async def snapshot(self) -> AsyncGenerator[bytes, None]:
        """The body of `GET /v1/snapshot` (JSON lines), as it arrives, in chunks (HTTP only).

        Only connecting is timed: a snapshot of a large store takes as long as
        it takes. A stream cut before its end is Unavailable, unless the
        server closed it between lines: the caller checks the end line.
        """
        headers = {"X-Request-ID": self._request_id or uuid.uuid4().hex}
        async with aclosing(self._stream(URL(self._snapshot_url), headers, "snapshot")) as chunks:
            async for chunk in chunks:
                yield chunk

    async def _stream(
        self, url: URL, headers: dict[str, str], what: str
    ) -> AsyncGenerator[bytes, None]:
        """The body of `GET url`, as it arrives; `what` names it in error messages.

        The stream lasts as long as its reader wants: only connecting is timed.
        """
        timeout = aiohttp.ClientTimeout(total=None, connect=self._connect_timeout)
        try:
            async with self._session.get(url, headers=headers, timeout=timeout) as response:
                if response.status >= 400:
                    document = await response.json(content_type=None)
                    error_type = STATUS_ERRORS.get(response.status, KVClientError)
                    message = document.get("error", {}).get("message", "")
                    raise error_type(f"GET {what}: {response.status} {message}")
                async for chunk in response.content.iter_any():
                    yield chunk
        except _FAILURES as exc:
            raise Unavailable(f"GET {what}: {type(exc).__name__} {exc}".rstrip()) from exc
        except ValueError as exc:
            raise KVClientError(f"GET {what}: answer is not as the API says: {exc}") from exc

    async def close(self) -> None:
        await self._session.close()

    async def _write(
        self,
        method: str,
        key: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        idempotency_key: str | None,
    ) -> tuple[dict[str, Any], bool]:
        """A write to `key`, with its idempotency key when not None: (document, replayed)."""
        if idempotency_key is not None:
            headers = {**headers, IDEMPOTENCY_KEY: idempotency_key}
        url = self._base + quote(key, safe="")
        return await self._exchange(method, url, repr(key), body, headers)

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
        return (await self._exchange(method, url, what, body, headers))[0]

    async def _exchange(
        self,
        method: str,
        url: str,
        what: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """`_request`, and whether the answer says it is a replay (`Idempotent-Replayed: true`)."""
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
                return document, response.headers.get(REPLAYED) == "true"
        except _FAILURES as exc:
            error_type = next(error for kind, error in FAILURE_ERRORS if isinstance(exc, kind))
            problem = "cannot reach" if error_type is Unavailable else "no answer in time from"
            detail = f"{type(exc).__name__} {exc}".rstrip()
            raise error_type(f"{method} {what}: {problem} {self._base}: {detail}") from exc
        except ValueError as exc:
            raise KVClientError(f"{method} {what}: answer is not JSON: {exc}") from exc
