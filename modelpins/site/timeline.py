"""The geometry of a model page's timeline: versions up, time to the right, one step line per alias.

Pure: the audit moves in, coordinates out; the template draws them as SVG.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from modelpins.board.views import Move

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 150, 20, 40
COLOURS = ("#1f6feb", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#0969da")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4")


@dataclass
class Point:
    x: float
    y: float
    move: Move

    @property
    def diamond(self) -> str:
        """The path of a rollback's marker: a diamond around the point."""
        x, y = self.x, self.y
        return f"M{x},{y - 7} L{x + 7},{y} L{x},{y + 7} L{x - 7},{y} Z"


@dataclass
class Line:
    alias: str
    colour: str
    dash: str
    path: str
    points: list[Point]
    label_y: float
    unrecorded: tuple[float, float, int] | None = None  # (x, y, version): the registry's now, with no audit record


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    lines: list[Line] = field(default_factory=list)
    y_ticks: list[tuple[float, int]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    plot: tuple[float, float, float, float] = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)

    @property
    def empty(self) -> bool:
        return not self.lines


def layout(moves: list[Move], now_iso: str, current: dict[str, int] | None = None) -> Chart:  # noqa: C901 - one pass over the moves; to be split
    """`current`: the registry's version of each alias now; one that no audit record explains is marked."""
    current = current or {}
    chart = Chart()
    timed = [(m, t) for m in moves if (t := _t(m.at)) is not None]
    if not timed:
        return chart
    now = _t(now_iso) or max(t for _, t in timed)
    t0, t1 = min(t for _, t in timed), max(now, max(t for _, t in timed))
    if t1 - t0 < 60:
        t0 -= 60
    aliases = list(dict.fromkeys(m.alias for m, _ in timed))
    numbers = [v for m, _ in timed for v in (m.before, m.after) if v is not None]
    numbers += [v for a, v in current.items() if a in aliases]
    v0, v1 = min(numbers), max(numbers)
    if v0 == v1:
        v0, v1 = v0 - 1, v1 + 1
    x0, y0, x1, y1 = chart.plot

    def x(t: float) -> float:
        return round(x0 + (t - t0) / (t1 - t0) * (x1 - x0), 1)

    def y(v: int) -> float:
        return round(y1 - (v - v0) / (v1 - v0) * (y1 - y0), 1)

    chart.y_ticks = [(y(v), v) for v in range(v0, v1 + 1)] if v1 - v0 <= 12 else _spread(v0, v1, y)
    span = t1 - t0
    fmt = "%Y-%m-%d" if span > 4 * 86400 else "%m-%d %H:%M" if span > 3600 else "%H:%M:%S"
    chart.x_ticks = [(x(t), datetime.fromtimestamp(t, timezone.utc).strftime(fmt)) for t in _between(t0, t1, 4)]
    for i, alias in enumerate(aliases):
        path: list[str] = []
        points = []
        last: float | None = None  # y of the version the alias holds, None while unset
        held: int | None = None
        for m, t in ((m, t) for m, t in timed if m.alias == alias):
            if not path and m.before is not None:
                last = y(m.before)  # held before the first record
                path.append(f"M{x(t0)},{last}")
            if last is not None:
                path.append(f"H{x(t)}")
            if m.after is None:  # deleted: the line stops
                points.append(Point(x(t), last if last is not None else y1, m))
                last, held = None, None
                continue
            path.append(f"V{y(m.after)}" if last is not None else f"M{x(t)},{y(m.after)}")
            last, held = y(m.after), m.after
            points.append(Point(x(t), last, m))
        if last is not None:
            path.append(f"H{x(t1)}")
        now_v = current.get(alias)
        unrecorded = (x(t1), y(now_v), now_v) if now_v is not None and now_v != held else None
        label_y = unrecorded[1] if unrecorded else last if last is not None else (points[-1].y if points else y0)
        colour, dash = COLOURS[i % len(COLOURS)], DASHES[i % len(DASHES)]
        chart.lines.append(Line(alias, colour, dash, " ".join(path), points, label_y, unrecorded))
    _spread_labels(chart.lines)
    return chart


def _spread_labels(lines: list[Line], gap: float = 14) -> None:
    """Move end labels apart so two aliases on the same version stay readable."""
    placed: list[float] = []
    for line in sorted(lines, key=lambda ln: ln.label_y):
        while any(abs(line.label_y - p) < gap for p in placed):
            line.label_y += gap
        placed.append(line.label_y)


def _spread(v0: int, v1: int, y: Callable[[int], float]) -> list[tuple[float, int]]:
    step = max(1, (v1 - v0) // 8)
    return [(y(v), v) for v in range(v0, v1 + 1, step)]


def _between(t0: float, t1: float, n: int) -> list[float]:
    return [t0 + (t1 - t0) * i / n for i in range(n + 1)]


def _t(iso: str) -> float | None:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
