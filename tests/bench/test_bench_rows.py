"""`make bench`'s report: every speed target is a row, its ratio computed from its two figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import report
from bench.loads import LoadResult
from bench.rows import ISSUE_ROWS, OTHER_ROWS, SECURE_ROWS, BytesPerKey, Figure, Row

# (what, ours, theirs, target): the speed targets, each measured against its peer.
TARGETS = [
    ("RESP SET, redis-benchmark -c 50", "kv-resp-set", "redis-set", 0.8),
    ("RESP GET, redis-benchmark -c 50", "kv-resp-get", "redis-get", 0.8),
    ("RESP SET, redis-benchmark -c 50 -P 16", "kv-resp-set-p16", "redis-set-p16", 0.5),
    ("RESP GET, redis-benchmark -c 50 -P 16", "kv-resp-get-p16", "redis-get-p16", 0.5),
    (
        "RESP SET, redis-benchmark -c 50, against the ceiling",
        "kv-resp-set",
        "ceiling-resp-set",
        0.8,
    ),
    (
        "RESP GET, redis-benchmark -c 50, against the ceiling",
        "kv-resp-get",
        "ceiling-resp-get",
        0.8,
    ),
    (
        "RESP SET, redis-benchmark -c 50 -P 16, against the ceiling",
        "kv-resp-set-p16",
        "ceiling-resp-set-p16",
        0.5,
    ),
    (
        "RESP GET, redis-benchmark -c 50 -P 16, against the ceiling",
        "kv-resp-get-p16",
        "ceiling-resp-get-p16",
        0.5,
    ),
    ("RESP SET with sqlite, -P 16", "kv-sqlite-resp-set-p16", "redis-always-set-p16", 0.3),
    ("HTTP GET", "kv-http-get", "ceiling-http-get", 0.80),
    ("HTTP PUT", "kv-http-put", "ceiling-http-put", 0.75),
    ("gRPC Get", "kv-grpc-get", "ceiling-grpc-get", 0.80),
    ("gRPC Put", "kv-grpc-put", "ceiling-grpc-put", 0.80),
    ("PUT over etcd, 1 replica", "kv-etcd-put", "etcd-gateway-put", 0.5),
    ("RSS per key, memory store", "kv-rss", "redis-rss", 200.0),
]
SECURED = {
    "HTTP GET": "kv-tls-http-get",
    "HTTP PUT": "kv-tls-http-put",
    "gRPC Get": "kv-tls-grpc-get",
    "gRPC Put": "kv-tls-grpc-put",
    "RESP SET": "kv-tls-resp-set",
    "RESP GET": "kv-tls-resp-get",
    "RESP SET -P 16": "kv-tls-resp-set-p16",
    "RESP GET -P 16": "kv-tls-resp-get-p16",
}
ROWS = [*ISSUE_ROWS, *SECURE_ROWS, *OTHER_ROWS]


def rate(per_second: float) -> LoadResult:
    return LoadResult(per_second, 1.0, 2.0, int(per_second), 0, 10.0)


def figures() -> dict[str, Figure]:
    """A distinct figure for every key a row names, so that a swapped key shows."""
    keys = sorted({key for row in ROWS for key in (row.ours, row.theirs)})
    found: dict[str, Figure] = {key: rate(1000.0 + 37.0 * n) for n, key in enumerate(keys)}
    found["kv-rss"] = BytesPerKey(180.0, 1000)
    found["redis-rss"] = BytesPerKey(150.0, 1000)
    return found


def line(text: str, row: Row) -> list[str]:
    """The cells of `row`'s line in the Markdown table `text` (the first keeps its "| ")."""
    rows = [line.split(" | ") for line in text.splitlines()]
    [found] = [cells for cells in rows if cells[0] == f"| {row.label}"]
    return found


def test_every_target_is_a_row_against_its_peer() -> None:
    assert len(ISSUE_ROWS) == len(TARGETS)
    assert {(r.label, r.ours, r.theirs, r.target) for r in ISSUE_ROWS} == set(TARGETS)


def test_every_secured_row_is_against_the_plain_ceiling_with_the_same_target() -> None:
    secured = {row.label.removesuffix(", TLS + token"): row for row in SECURE_ROWS}
    assert {label: row.ours for label, row in secured.items()} == SECURED
    plain = {row.ours: row for row in ISSUE_ROWS if row.theirs.startswith("ceiling-")}
    for row in SECURE_ROWS:
        twin = plain[row.ours.replace("kv-tls-", "kv-")]
        assert (row.theirs, row.target) == (twin.theirs, twin.target)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.label)
def test_a_row_shows_both_figures_their_ratio_and_whether_it_is_met(row: Row) -> None:
    found = figures()
    text = report.table(ROWS, found, lambda r: f"python -m bench.run --only {r.phase}")
    cells = line(text, row)
    ours, theirs = found[row.ours], found[row.theirs]
    if isinstance(ours, BytesPerKey) and isinstance(theirs, BytesPerKey):
        expected, met = ours.bytes_per_key / theirs.bytes_per_key, ours.bytes_per_key <= 200
        assert "180 B/key" in cells[1]
        assert "150 B/key" in cells[2]
    else:
        assert isinstance(ours, LoadResult)
        assert isinstance(theirs, LoadResult)
        expected = ours.requests_per_second / theirs.requests_per_second
        met = expected >= row.target
        assert f"{ours.requests_per_second:,.0f}/s" in cells[1]
        assert f"{theirs.requests_per_second:,.0f}/s" in cells[2]
    assert cells[3] == f"{expected:.2f}"
    assert cells[5] == ("yes" if met else "**no**")
    assert cells[6] == f"`python -m bench.run --only {row.phase}` |"


def test_a_row_missing_a_figure_says_so_and_claims_nothing() -> None:
    found = figures()
    del found["redis-set"]
    cells = line(report.table(ISSUE_ROWS, found, lambda r: r.phase), ISSUE_ROWS[0])
    assert "not measured" in cells[2]
    assert (cells[3], cells[5]) == ("-", "-")


def test_memory_is_met_by_bytes_per_key_not_by_the_ratio() -> None:
    [memory] = [row for row in ISSUE_ROWS if row.at_most_bytes]
    found = figures()
    found["kv-rss"], found["redis-rss"] = BytesPerKey(190.0, 10), BytesPerKey(100.0, 10)
    assert line(report.table([memory], found, lambda r: r.phase), memory)[5] == "yes"
    found["kv-rss"], found["redis-rss"] = BytesPerKey(210.0, 10), BytesPerKey(300.0, 10)
    assert line(report.table([memory], found, lambda r: r.phase), memory)[5] == "**no**"


def test_the_section_is_replaced_and_the_rest_of_the_document_kept(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\n{report.BEGIN}\nold\n{report.END}\n\n## Kept\n")
    report.write_section(doc, "new")
    assert doc.read_text() == f"# Benchmarks\n\n{report.BEGIN}\nnew\n{report.END}\n\n## Kept\n"
