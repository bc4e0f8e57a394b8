"""Chart geometry for the admin's dashboard, drawn as inline SVG by the templates.

No chart library and no script: the server computes every rectangle, and the templates colour
them with the admin's own CSS variables (so the light and dark themes both work).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

BAR_WIDTH = 560  # the whole horizontal chart
BAR_LABEL_WIDTH = 140  # names on the left
BAR_VALUE_WIDTH = 80  # amounts on the right
BAR_ROW = 26
BAR_TOP = 10  # labels shown one by one; the rest are summed into one bar
COLUMN_WIDTH = 560
COLUMN_HEIGHT = 150
COLUMN_AXIS = 20  # room for the day labels under the columns


@dataclass(frozen=True)
class Bar:
    name: str
    value: str
    y: int
    width: float
    muted: bool  # the summed "other labels" and "unattributed" bars

    @property
    def value_x(self) -> float:
        return BAR_LABEL_WIDTH + self.width + 6


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bar_row: int
    bars: list[Bar]


@dataclass(frozen=True)
class Column:
    day: date
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    base: int  # y of the axis
    peak: int
    columns: list[Column]

    @property
    def first_day(self) -> date:
        return self.columns[0].day

    @property
    def last_day(self) -> date:
        return self.columns[-1].day

    @property
    def total(self) -> int:
        return sum(column.count for column in self.columns)


def bar_chart_build(
    amounts: Sequence[tuple[str, Decimal]], *, unattributed: Decimal = Decimal(0)
) -> BarChart:
    """Horizontal bars, largest first: the top labels, the others summed, then unattributed."""
    ranked = sorted(amounts, key=lambda item: (-item[1], item[0]))
    rows = [(name, amount, False) for name, amount in ranked[:BAR_TOP]]
    rest = ranked[BAR_TOP:]
    if rest:
        rows.append((f"{len(rest)} other labels", sum((a for _, a in rest), Decimal(0)), True))
    if unattributed:
        rows.append(("unattributed", unattributed, True))
    peak = max((amount for _, amount, _ in rows), default=Decimal(0))
    span = BAR_WIDTH - BAR_LABEL_WIDTH - BAR_VALUE_WIDTH
    bars = [
        Bar(
            name=name,
            value=f"{amount:,.2f}",
            y=index * BAR_ROW,
            width=round(float(amount / peak) * span, 1) if peak > 0 else 0.0,
            muted=muted,
        )
        for index, (name, amount, muted) in enumerate(rows)
    ]
    return BarChart(BAR_WIDTH, len(bars) * BAR_ROW, BAR_LABEL_WIDTH, BAR_ROW, bars)


def column_chart_build(
    counts: Sequence[tuple[date, int]], *, last_day: date, days: int
) -> ColumnChart:
    """One column per day for the ``days`` days ending ``last_day`` (days without data: 0)."""
    by_day = dict(counts)
    first = last_day - timedelta(days=days - 1)
    peak = max(by_day.values(), default=0)
    base = COLUMN_HEIGHT - COLUMN_AXIS
    slot = COLUMN_WIDTH / days
    columns = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        count = by_day.get(day, 0)
        height = round(count / peak * (base - 16), 1) if peak else 0.0
        columns.append(
            Column(
                day, count, round(offset * slot + 2, 1), base - height, round(slot - 4, 1), height
            )
        )
    return ColumnChart(COLUMN_WIDTH, COLUMN_HEIGHT, base, peak, columns)
