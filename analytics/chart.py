"""The admin overview's chart: events per day per app as SVG geometry computed on the server.

No chart library and no script: the template draws one polyline per app from these points,
so the page loads nothing from another host.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from analytics.selectors import DayCount

WIDTH = 800
HEIGHT = 300
PADDING = 40
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    points: str  # "x,y x,y ..." for <polyline points>
    total: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    padding: int
    first_day: date | None
    last_day: date | None
    peak: int
    series: list[Series]


def chart_build(rows: list[DayCount]) -> Chart:
    if not rows:
        return Chart(WIDTH, HEIGHT, PADDING, None, None, 0, [])
    first, last = min(r.day for r in rows), max(r.day for r in rows)
    days = (last - first).days + 1
    peak = max(r.count for r in rows)
    by_app: dict[object, dict[date, int]] = {}
    names: dict[object, str] = {}
    for row in rows:
        by_app.setdefault(row.app_id, {})[row.day] = row.count
        names[row.app_id] = row.app_name
    step = (WIDTH - 2 * PADDING) / max(1, days - 1)
    scale = (HEIGHT - 2 * PADDING) / peak
    series = []
    for index, (app_id, counts) in enumerate(sorted(by_app.items(), key=lambda i: names[i[0]])):
        points = []
        for offset in range(days):
            count = counts.get(first + timedelta(days=offset), 0)
            x = PADDING + offset * step
            y = HEIGHT - PADDING - count * scale
            points.append(f"{x:.1f},{y:.1f}")
        series.append(
            Series(
                name=names[app_id],
                colour=COLOURS[index % len(COLOURS)],
                points=" ".join(points),
                total=sum(counts.values()),
            )
        )
    return Chart(WIDTH, HEIGHT, PADDING, first, last, peak, series)
