"""The benchmark's results: the tables in docs/benchmarks.md, and the chart.

Only the part between BEGIN and END markers of docs/benchmarks.md is
rewritten, so sections others keep in that file (e.g. "Durable store") stay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bench.loads import LoadResult
from bench.rows import BytesPerKey, Figure, Figures, Row, met, name, ratio

BEGIN = "<!-- bench/run.py: begin (generated; edit bench/report.py instead) -->"
END = "<!-- bench/run.py: end -->"
TITLE = "# Benchmarks\n"


def cell(key: str, figure: Figure | None) -> str:
    """Who was measured and what: throughput and latency, or bytes per key."""
    if figure is None:
        return f"{name(key)}: not measured"
    if isinstance(figure, BytesPerKey):
        note = f"; {figure.note}" if figure.note else ""
        return f"{name(key)}: {figure.bytes_per_key:.0f} B/key ({figure.keys:,} keys{note})"
    errors = f", **{figure.errors} errors**" if figure.errors else ""
    cpu = (
        "" if figure.cpu_us_per_request is None else f", {figure.cpu_us_per_request:.0f} µs CPU/req"
    )
    return (
        f"{name(key)}: {figure.requests_per_second:,.0f}/s "
        f"(p99 {figure.p99_ms:.2f} ms{cpu}{errors})"
    )


def table(rows: Sequence[Row], figures: Figures, command: Callable[[Row], str]) -> str:
    """One line per row: both figures, the ratio, the target, met or not, and its command."""
    lines = [
        "| what | ours | theirs | ratio | target | met | command |",
        "|---|---|---|---:|---:|---|---|",
    ]
    for row in rows:
        found, reached = ratio(row, figures), met(row, figures)
        shown = "-" if found is None else f"{found:.2f}"
        target = f"<= {row.target:g} B" if row.at_most_bytes else f">= {row.target:g}"
        verdict = {None: "-", True: "yes", False: "**no**"}[reached]
        lines.append(
            f"| {row.label} | {cell(row.ours, figures.get(row.ours))} | "
            f"{cell(row.theirs, figures.get(row.theirs))} | {shown} | {target} | {verdict} | "
            f"`{command(row)}` |"
        )
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace the generated section of `path` (or append it), leaving the rest untouched."""
    text = path.read_text() if path.exists() else TITLE
    block = f"{BEGIN}\n{section.strip()}\n{END}"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def chart(path: Path, rows: Sequence[Row], figures: Figures, subtitle: str) -> None:
    """One horizontal bar per measured throughput row: its ratio, and its target as a mark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [
        (row, found)
        for row in rows
        if not row.at_most_bytes and (found := ratio(row, figures)) is not None
    ]
    figure, axes = plt.subplots(figsize=(10, 0.32 * len(shown) + 1.6))
    for index, (row, found) in enumerate(shown):
        colour = "#2f855a" if found >= row.target else "#c53030"
        axes.barh(index, found, color=colour, height=0.7)
        axes.plot([row.target, row.target], [index - 0.4, index + 0.4], color="black", lw=2)
        ours = figures[row.ours]
        rate = ours.requests_per_second if isinstance(ours, LoadResult) else 0.0
        axes.annotate(
            f" {found:.2f} ({rate / 1000:.1f}k/s)",
            (max(found, row.target) + 0.01, index),
            va="center",
            fontsize=7,
        )
    widest = max((max(found, row.target) for row, found in shown), default=1.0)
    axes.set_xlim(0, widest * 1.2)
    axes.set_yticks(range(len(shown)), [row.label for row, _ in shown], fontsize=7)
    axes.invert_yaxis()
    axes.axvline(1.0, color="#a0aec0", lw=1, ls="--")
    axes.set_xlabel("requests per second, kv-server / peer (black mark: target; green: met)")
    axes.set_title(f"kv-server against its peers, one run\n{subtitle}", fontsize=10)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
