"""bench/transactions.py runs end to end against a memory server and reports both loads."""

from __future__ import annotations

from pathlib import Path

from bench.transactions import measure, served, table


def test_the_transactions_bench_measures_transfers_and_pairs_of_puts(tmp_path: Path) -> None:
    with served("memory", tmp_path) as url:
        figures = measure(url, 0.3)
    assert figures["transfer"] > 0
    assert figures["two-puts"] > 0
    assert "| memory |" in table({"memory": figures}, 0.3)
