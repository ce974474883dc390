"""Query strings, parsed strictly: the one parser of every HTTP route that takes one."""

from __future__ import annotations

from urllib.parse import parse_qsl

from kv.domain import InvalidRequest


def query_parameters(raw_query: str, known: frozenset[str]) -> dict[str, str]:
    """The parameters of `raw_query` (still percent-encoded), each at most once.

    InvalidRequest for escapes that do not decode to UTF-8, a name not in
    `known` (a typo such as `prefx=` would otherwise be ignored and widen the
    request) and a name given twice (which one would win is a guess).
    """
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequest("query is not valid UTF-8 once percent-decoded") from None
    names = [name for name, _ in pairs]
    unknown = sorted(set(names) - known)
    if unknown:
        raise InvalidRequest(
            f"unknown query parameter {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidRequest(f"query parameter {', '.join(repeated)} given more than once")
    return dict(pairs)
