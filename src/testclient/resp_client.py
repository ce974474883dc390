"""RespKVClient: KVClient over kv-server's RESP transport, on redis-py's asyncio client.

It speaks the `KV.*` commands (docs/resp.md), which carry JSON values,
revisions and conditions; an entry comes back as a map (RESP3) or a flat
array of field, value, ... (RESP2), and both are read alike.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from testclient.client import (
    AccessDenied,
    AlreadyExists,
    ClosingClient,
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

# The one place the server's error codes (the first word of an error reply)
# become the client's errors; any other code is a refused request.
ERROR_CODES: dict[str, type[KVClientError]] = {
    "NOTFOUND": NotFound,
    "EXISTS": AlreadyExists,
    "CONFLICT": PreconditionFailed,
    "TRYAGAIN": Unavailable,
    "OUTCOMEUNKNOWN": OutcomeUnknown,
    "NOAUTH": AccessDenied,
    "WRONGPASS": AccessDenied,
    "NOPERM": AccessDenied,
    "DENIED": AccessDenied,
}


class RespKVClient(ClosingClient):
    """Talks to `kv-server`'s RESP transport at `url` (e.g. redis://localhost:6379).

    `protocol` is the RESP version redis-py speaks: 3 (its default, after
    `HELLO 3`) or 2. Create it inside a running event loop.
    """

    transport = "resp"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        request_id: str | None = None,
        protocol: int = 3,
        token: str | None = None,
        tls_options: Mapping[str, Any] | None = None,
    ) -> None:
        """`tls_options` (redis-py's `ssl_*` arguments) apply to a `rediss://` URL only.
        `token`: sent when connecting (`HELLO 3 AUTH default TOKEN`, or `AUTH` in RESP2).
        """
        # `request_id` is accepted as every KVClient's is, and not sent: a RESP
        # command carries no metadata, so the server makes up each one's id.
        del request_id
        self._url = url
        secure = urlsplit(url).scheme == "rediss"
        # No retries: a write whose reply was lost must not be sent again
        # behind the caller's back (a second KV.CREATE would find the key).
        self._redis = redis.Redis.from_url(
            url,
            protocol=protocol,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            password=token,
            **(dict(tls_options or {}) if secure else {}),
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
        _no_idempotency_key(idempotency_key)
        condition = () if expected_revision is None else ("IFREV", expected_revision)
        fields = await self._call("KV.PUT", key, _json(value), *condition, *_ttl(ttl))
        return Written(_entry(fields), bool(int(fields["created"])))

    async def create(
        self, key: str, value: Any, *, ttl: int | None = None, idempotency_key: str | None = None
    ) -> KVEntry:
        _no_idempotency_key(idempotency_key)
        return _entry(await self._call("KV.CREATE", key, _json(value), *_ttl(ttl)))

    async def get(self, key: str) -> KVEntry:
        return _entry(await self._call("KV.GET", key))

    async def delete(
        self,
        key: str,
        *,
        expected_revision: int | None = None,
        idempotency_key: str | None = None,
    ) -> KVEntry:
        _no_idempotency_key(idempotency_key)
        condition = () if expected_revision is None else ("IFREV", expected_revision)
        return _entry(await self._call("KV.DELETE", key, *condition))

    async def watch(
        self,
        prefix: str = "",
        *,
        from_revision: int | None = None,
        after_revision: int | None = None,
    ) -> AsyncGenerator[KVEvent, None]:
        """RESP serves no watch (docs/resp.md): Rejected, so a scenario records a failed check."""
        raise Rejected("the RESP transport has no watch; watch over HTTP or gRPC")
        yield  # an async generator, as KVClient.watch is  # pragma: no cover

    async def list(
        self,
        prefix: str = "",
        *,
        limit: int | None = None,
        cursor: str | None = None,
        keys_only: bool = False,
    ) -> KVPage:
        options: list[Any] = []
        if limit is not None:
            options += ["LIMIT", limit]
        if cursor is not None:
            options += ["CURSOR", cursor]
        if keys_only:
            options.append("KEYSONLY")
        page = await self._call("KV.LIST", prefix, *options)
        try:
            entries = tuple(_listed(_fields(item), keys_only) for item in page["entries"])
            next_cursor = page["next_cursor"]
            return KVPage(
                entries,
                None if next_cursor is None else _text(next_cursor),
                int(page["revision"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise KVClientError(
                f"KV.LIST {prefix!r}: the page is not as documented: {exc}"
            ) from exc

    async def txn(
        self, request: dict[str, Any], *, idempotency_key: str | None = None
    ) -> KVTxnResult:
        """`KV.TXN JSON`: the answer is the HTTP answer's JSON text."""
        _no_idempotency_key(idempotency_key)
        reply = await self._command("KV.TXN", "txn", _json(request))
        try:
            document = json.loads(reply)
        except (TypeError, ValueError) as exc:
            raise KVClientError(f"KV.TXN: the answer is not JSON: {exc}") from exc
        return KVTxnResult.from_document(document)

    async def close(self) -> None:
        await self._redis.aclose()

    async def _call(self, command: str, key: str, *args: Any) -> dict[str, Any]:
        return _fields(await self._command(command, key, key, *args))

    async def _command(self, command: str, what: str, *args: Any) -> Any:
        """Send `command` with `args`; `what` names it in error messages."""
        key = what
        try:
            # redis-py leaves execute_command unannotated.
            reply = await self._redis.execute_command(  # type: ignore[no-untyped-call]
                command, *args
            )
        except ResponseError as exc:
            code = getattr(exc, "status_code", None) or str(exc).split(" ", 1)[0]
            raise ERROR_CODES.get(code, Rejected)(f"{command} {key!r}: {exc}") from exc
        except AuthenticationError as exc:  # a ConnectionError to redis-py: caught first
            raise AccessDenied(f"{command} {key!r}: {exc}") from exc
        except RedisTimeoutError as exc:
            # Sent, and no reply in time: as the other clients treat their deadline.
            raise OutcomeUnknown(f"{command} {key!r}: {exc} (url {self._url})") from exc
        except (RedisConnectionError, OSError) as exc:
            raise Unavailable(f"{command} {key!r}: {exc} (url {self._url})") from exc
        return reply


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise Rejected(f"value is not JSON: {exc}") from exc


def _text(word: Any) -> str:
    return word.decode("utf-8", "surrogatepass") if isinstance(word, bytes) else str(word)


def _fields(reply: Any) -> dict[str, Any]:
    """An entry reply as a dict of field name to value: from a map, or a flat array."""
    if isinstance(reply, dict):
        return {_text(name): value for name, value in reply.items()}
    if isinstance(reply, list) and len(reply) % 2 == 0:
        return {_text(reply[i]): reply[i + 1] for i in range(0, len(reply), 2)}
    raise KVClientError(f"unexpected reply from the server: {reply!r}")


def _ttl(ttl: int | None) -> tuple[Any, ...]:
    return () if ttl is None else ("TTL", ttl)


def _entry(fields: dict[str, Any]) -> KVEntry:
    ttl = fields.get("ttl")
    return KVEntry(
        _text(fields["key"]),
        json.loads(fields["value"]),
        int(fields["revision"]),
        None if ttl is None else int(ttl),
    )


def _listed(fields: dict[str, Any], keys_only: bool) -> KVEntry:
    """An entry of a page; a keys-only entry must carry the key and revision and nothing else."""
    if not keys_only:
        return _entry(fields)
    if set(fields) != {"key", "revision"}:
        raise ValueError(f"a KEYSONLY entry has fields {sorted(fields)}, not key and revision")
    return KVEntry(_text(fields["key"]), None, int(fields["revision"]))


def _no_idempotency_key(key: str | None) -> None:
    """RESP has no way to send an idempotency key: a write asked to carry one is refused."""
    if key is not None:
        raise Rejected("the RESP API carries no idempotency key; use HTTP or gRPC")
