"""Geometry of the factory map: nodes in columns, edges as curves — numbers only.

Columns come from the longest path from the sources (cycles are cut where they close), so
work flows left to right. The template draws the elements; every text is a label the
template escapes, never markup built here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from factory.web.svg import label

NODE_W = 170
NODE_H = 54
COL_GAP = 110
ROW_GAP = 36
MARGIN = 20


@dataclass(frozen=True)
class Node:
    """One box: its id, its text, its position and size, its css class, its hover title."""

    id: str
    text: str
    x: float
    y: float
    width: float
    height: float
    css: str
    note: str
    """A second line (e.g. "2 queued · 1 running")."""


@dataclass(frozen=True)
class Curve:
    """One edge: an SVG path, where its label sits, and the label's text."""

    source: str
    target: str
    path: str
    label_x: float
    label_y: float
    text: str
    title: str
    css: str


@dataclass(frozen=True)
class Graph:
    """The whole drawing."""

    nodes: list[Node]
    curves: list[Curve]
    width: int
    height: int


def columns(ids: Sequence[str], pairs: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Return each node's column: 0 for nodes nothing points to, else 1 + the deepest
    predecessor (a pair that would close a cycle is ignored)."""
    col = {i: 0 for i in ids}
    for _ in range(len(ids)):
        changed = False
        for a, b in pairs:
            if a in col and b in col and a != b and col[b] < col[a] + 1 <= len(ids):
                col[b] = col[a] + 1
                changed = True
        if not changed:
            break
    return col


def layout(
    nodes: Sequence[tuple[str, str, str, str]],
    edges: Sequence[tuple[str, str, str, str, str]],
) -> Graph:
    """Return the drawing of ``nodes`` (id, text, css, note) and ``edges`` (source, target,
    label text, hover title, css), laid out in columns."""
    ids = [n[0] for n in nodes]
    col = columns(ids, [(e[0], e[1]) for e in edges])
    rows: dict[int, int] = {}
    placed: dict[str, Node] = {}
    for node_id, text, css, note in nodes:
        c = col[node_id]
        r = rows.get(c, 0)
        rows[c] = r + 1
        x = MARGIN + c * (NODE_W + COL_GAP)
        y = MARGIN + r * (NODE_H + ROW_GAP)
        placed[node_id] = Node(node_id, label(text, 28), x, y, NODE_W, NODE_H, css, label(note, 40))
    curves = []
    for index, (a, b, text, title, css) in enumerate(edges):
        if a not in placed or b not in placed:
            continue
        p, q = placed[a], placed[b]
        x1, y1 = p.x + p.width, p.y + p.height / 2
        x2, y2 = q.x, q.y + q.height / 2
        if x2 <= x1:  # a backward edge: leave from the bottom, enter from the bottom
            x1, y1 = p.x + p.width / 2, p.y + p.height
            x2, y2 = q.x + q.width / 2, q.y + q.height
            bend = max(y1, y2) + 40 + 12 * (index % 3)
            path = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{bend:.1f} {x2:.1f},{bend:.1f} {x2:.1f},{y2:.1f}"
            lx, ly = (x1 + x2) / 2, bend - 4
        else:
            mid = (x1 + x2) / 2
            path = f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
            lx, ly = mid, (y1 + y2) / 2 - 4 + 11 * (index % 2)
        curves.append(Curve(a, b, path, lx, ly, label(text, 40), label(title, 200), css))
    width = MARGIN * 2 + (max(col.values(), default=0) + 1) * (NODE_W + COL_GAP) - COL_GAP
    height = MARGIN * 2 + max(rows.values(), default=1) * (NODE_H + ROW_GAP) + 60
    return Graph(list(placed.values()), curves, int(width), int(height))
