"""The benchmark's results: the table and notes in docs/benchmarks.md, and the chart.

Only the part between BEGIN and END markers of docs/benchmarks.md is
rewritten, so sections others keep in that file (e.g. "Durable store") stay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.loads import LoadResult

BEGIN = "<!-- bench/run.py: begin (generated; edit bench/report.py instead) -->"
END = "<!-- bench/run.py: end -->"
TITLE = "# Benchmarks\n"


@dataclass(frozen=True)
class Comparison:
    """One target: `ours` measured against `baseline`, and the ratio ours/baseline required."""

    label: str
    ours: str
    baseline: str
    target: float


def _ratio(ours: LoadResult | None, baseline: LoadResult | None) -> float | None:
    if ours is None or baseline is None or baseline.requests_per_second == 0:
        return None
    return ours.requests_per_second / baseline.requests_per_second


def _cell(result: LoadResult | None) -> str:
    if result is None:
        return "not measured"
    errors = f", **{result.errors} errors**" if result.errors else ""
    cpu = (
        "" if result.cpu_us_per_request is None else f", {result.cpu_us_per_request:.0f} µs CPU/req"
    )
    return (
        f"{result.requests_per_second:,.0f}/s (p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms{cpu}{errors})"
    )


def table(
    comparisons: Sequence[Comparison],
    results: Mapping[str, LoadResult],
    names: Mapping[str, str],
    rss_per_key: float | None,
    rss_target: float,
) -> str:
    """The Markdown table of every comparison: both sides, the ratio, the target, met or not."""
    lines = [
        "| what | ours | against | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for c in comparisons:
        ours, baseline = results.get(c.ours), results.get(c.baseline)
        ratio = _ratio(ours, baseline)
        shown = "-" if ratio is None else f"{ratio:.2f}x"
        met = "-" if ratio is None else ("yes" if ratio >= c.target else "**no**")
        lines.append(
            f"| {c.label} | {names[c.ours]}: {_cell(ours)} | {names[c.baseline]}: "
            f"{_cell(baseline)} | {shown} | >= {c.target:g}x | {met} |"
        )
    if rss_per_key is None:
        lines.append(
            f"| RSS per key, in-memory store | not measured | | | <= {rss_target:g} B | - |"
        )
    else:
        met = "yes" if rss_per_key <= rss_target else "**no**"
        lines.append(
            f"| RSS per key, in-memory store | {rss_per_key:.0f} B | Redis: about 136 B | | "
            f"<= {rss_target:g} B | {met} |"
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


def chart(
    path: Path,
    groups: Sequence[tuple[str, Sequence[tuple[str, str]]]],
    results: Mapping[str, LoadResult],
    subtitle: str,
) -> None:
    """Grouped bars of requests per second: one group per operation, one bar per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"kv-server": "#2b6cb0", "ceiling": "#a0aec0", "etcd": "#dd6b20"}
    figure, axes = plt.subplots(figsize=(10, 4.8))
    width = 0.27
    for index, (_, bars) in enumerate(groups):
        measured = [(system, results[key]) for system, key in bars if key in results]
        for offset, (system, result) in enumerate(measured):
            x = index + (offset - (len(measured) - 1) / 2) * width
            axes.bar(
                x,
                result.requests_per_second,
                width,
                color=colours[system],
                label=system if system not in axes.get_legend_handles_labels()[1] else None,
            )
            axes.annotate(
                f"{result.requests_per_second / 1000:.1f}k",
                (x, result.requests_per_second),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    axes.set_xticks(range(len(groups)), [operation for operation, _ in groups])
    axes.set_ylabel("requests per second (50 connections, loopback)")
    axes.set_title(f"kv-server against its framework ceilings and etcd\n{subtitle}", fontsize=10)
    axes.legend()
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
