"""Reading the test client's settings from the environment: typed, failing with the variable's name.

The test client's own reader (it shares no code with the server, whose bugs it
is meant to catch); the variables are those of docs/configuration.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit


class ConfigError(Exception):
    """A setting has a value the test client or `kv` cannot run with."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class Env:
    """Typed reads of environment variables; a bad value is a ConfigError naming the variable."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def text(self, name: str, default: str) -> str:
        return self._environ.get(name, default).strip() or default

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in choices:
            raise ConfigError(name, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        raw = self.text(name, str(default))
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(name, f"{raw!r} is not a number") from None
        if not low <= value <= high:
            raise ConfigError(name, f"{value} is out of range {low}..{high}")
        return value

    def port(self, name: str, default: int) -> int:
        raw = self.text(name, str(default))
        if not raw.isdigit() or not 1 <= int(raw) <= 65535:
            raise ConfigError(name, f"{raw!r} is not a port number 1..65535")
        return int(raw)

    def addresses(self, name: str, default: str, schemes: tuple[str, ...] = ()) -> str:
        """A comma list of addresses (replicas of one service), as one text; with `schemes`,
        each a URL of one of them with a host (else any text, such as a gRPC target)."""
        raw = self.text(name, default)
        for address in split_list(raw) if schemes else ():
            parts = urlsplit(address)
            if parts.scheme not in schemes or not parts.hostname:
                shown = " or ".join(f"{scheme}://" for scheme in schemes)
                raise ConfigError(name, f"{address!r} is not a URL starting {shown}")
        return self._checked_list(name, raw)

    @staticmethod
    def _checked_list(name: str, raw: str) -> str:
        if not all(item.strip() for item in raw.split(",")):
            raise ConfigError(name, f"{raw!r} has an empty item; separate items by single commas")
        return raw


def split_list(raw: str) -> tuple[str, ...]:
    """The items of a comma list, stripped, in order (empty items left out)."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())
