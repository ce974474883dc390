"""bench/listing.py runs end to end on a small store and reports every figure."""

from __future__ import annotations

from bench.listing import PAGE, run, table


async def test_the_listing_bench_walks_every_page_of_both_stores() -> None:
    keys = 3 * PAGE + 7
    results = await run(["memory", "sqlite"], keys, repeats=2)
    for figures in results.values():
        assert figures["pages"] == 4
        assert figures["first_us"] > 0
        assert figures["last_us"] > 0
    report = table(results, keys)
    assert "| memory | 307 | 4 |" in report
    assert "| sqlite | 307 | 4 |" in report
