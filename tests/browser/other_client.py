"""The other client of the browser tests: plain HTTP to the same kv-server, from the test."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote


class OtherClient:
    """Writes and reads entries beside the page, as a second user of the service would."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        """`token`: sent as `Authorization: Bearer` (a server with an auth file)."""
        self.base_url = base_url
        self._credentials = {} if token is None else {"Authorization": f"Bearer {token}"}

    def _call(self, method: str, key: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}/v1/kv/{quote(key, safe='')}",
            data=data,
            method=method,
            headers={
                **self._credentials,
                **({"Content-Type": "application/json"} if data else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def put(self, key: str, value: Any, *, ttl: int | None = None) -> dict[str, Any]:
        body = {"value": value} if ttl is None else {"value": value, "ttl": ttl}
        status, document = self._call("PUT", key, body)
        assert status in (200, 201), document
        return dict(document)

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry, or None when the key does not exist."""
        status, document = self._call("GET", key)
        if status == 404:
            return None
        assert status == 200, document
        return dict(document)

    def delete(self, key: str) -> None:
        status, document = self._call("DELETE", key)
        assert status == 200, document
