"""Geometry for the inline SVG bar charts: numbers only, the template draws the elements.

Charts are computed server-side as rectangles (so labels stay text the template escapes,
never markup built here). Stacked bars: one column per day, one segment per group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from factory.logs import redactor
from factory.store.metrics import DayCount

WIDTH = 720
HEIGHT = 180
MARGIN = 24
PALETTE = 8
"""Number of colour classes (``c0`` … ``c7``) in style.css."""


@dataclass(frozen=True)
class Bar:
    """One rectangle, its colour class and its hover title."""

    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Chart:
    """A chart: its bars, its size, its largest total and the legend (group → class)."""

    bars: list[Bar]
    width: int
    height: int
    max_total: float
    legend: list[tuple[str, str]]
    labels: list[tuple[float, str]]
    """x positions and texts of the category labels (first, middle and last only)."""


def label(text: str, limit: int = 24) -> str:
    """Return a short axis label: scrubbed of secrets first, then cut."""
    return redactor.scrub(text)[:limit]


def _layout(categories: Sequence[str]) -> tuple[float, float]:
    slot = (WIDTH - 2 * MARGIN) / max(len(categories), 1)
    return slot, min(max(slot * 0.8, 1.0), 48.0)


def stacked_chart(points: Iterable[DayCount], unit: str = "") -> Chart:
    """Return a stacked bar chart: a column per day, a segment per group, in given order."""
    points = list(points)
    days = sorted({p.day for p in points})
    groups = sorted({p.group for p in points})
    css = {g: f"c{i % PALETTE}" for i, g in enumerate(groups)}
    totals = {d: 0.0 for d in days}
    for p in points:
        totals[p.day] += p.value
    top = max(totals.values(), default=0.0) or 1.0
    scale = (HEIGHT - 2 * MARGIN) / top
    slot, width = _layout(days)
    base = {d: float(HEIGHT - MARGIN) for d in days}
    bars = []
    for p in sorted(points, key=lambda q: (q.day, groups.index(q.group))):
        h = p.value * scale
        base[p.day] -= h
        x = MARGIN + days.index(p.day) * slot
        value = f"{p.value:.2f}" if unit == "$" else f"{p.value:g}"
        bars.append(Bar(x, base[p.day], width, h, css[p.group], f"{p.day} {p.group}: {value}"))
    picks = sorted({0, len(days) // 2, len(days) - 1}) if days else []
    labels = [(MARGIN + i * slot, label(days[i])) for i in picks]
    legend = [(g, css[g]) for g in groups]
    return Chart(bars, WIDTH, HEIGHT, max(totals.values(), default=0.0), legend, labels)


def share_chart(shares: dict[str, int]) -> Chart:
    """Return a horizontal-category bar chart of counts (one bar per key)."""
    points = [DayCount(key, key, float(n)) for key, n in shares.items()]
    chart = stacked_chart(points)
    labels = [(bar.x, label(key)) for bar, key in zip(chart.bars, sorted(shares), strict=True)]
    return Chart(chart.bars, chart.width, chart.height, chart.max_total, chart.legend, labels)
