"""Schemathesis hook (loaded through SCHEMATHESIS_HOOKS by test_openapi_fuzz.py): each request
that carries a valid `Idempotency-Key` gets a key of its own.

A client sends a new idempotency key with each new operation; the same key
again asks for the first answer (`Idempotent-Replayed: true`) and changes
nothing. Schemathesis draws header values from a small space and can send
the key of an earlier DELETE with a later one; the server then rightly
replays the first delete and leaves the key in place, which the stateful
check "a deleted resource is gone" reports as a failure. Keys that are not
valid (refused 400) are left as they were, so the negative cases stay.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import schemathesis

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
_RUN = uuid.uuid4().hex
_COUNTER = itertools.count(1)


def _valid(key: object) -> bool:
    return (
        isinstance(key, str)
        and 1 <= len(key) <= MAX_KEY_LENGTH
        and all(" " <= c <= "~" for c in key)
    )


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    for name, value in list((case.headers or {}).items()):
        if name.lower() == HEADER and _valid(value):
            case.headers[name] = f"fuzz-{_RUN}-{next(_COUNTER)}"
