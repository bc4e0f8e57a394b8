"""Chart geometry for the admin's dashboard, drawn as inline SVG by the templates.

No chart library and no script: the server computes every rectangle, and the templates colour
them with the admin's own CSS variables (so the light and dark themes both work).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
    at: date  # the day, or the hour (a datetime) of an hourly chart
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
    unit: str = "day"  # what one column counts: "day" or "hour"

    @property
    def first(self) -> date:
        return self.columns[0].at

    @property
    def last(self) -> date:
        return self.columns[-1].at

    @property
    def total(self) -> int:
        return sum(column.count for column in self.columns)

    @property
    def at_format(self) -> str:
        """Django ``date`` filter format of a column's day or hour."""
        return "Y-m-d H:i" if self.unit == "hour" else "Y-m-d"

    @property
    def edge_format(self) -> str:
        """Format of the first and last column under the axis."""
        return "M j H:i" if self.unit == "hour" else "M j"


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
    slots = [last_day - timedelta(days=back) for back in range(days - 1, -1, -1)]
    return _columns_build(dict(counts), slots, unit="day")


def hour_chart_build(
    counts: Sequence[tuple[datetime, int]], *, last_hour: datetime, hours: int
) -> ColumnChart:
    """One column per hour for the ``hours`` hours ending ``last_hour`` (hours without data: 0)."""
    slots = [last_hour - timedelta(hours=back) for back in range(hours - 1, -1, -1)]
    return _columns_build(dict(counts), slots, unit="hour")


def _columns_build(by_slot: Mapping[date, int], slots: Sequence[date], *, unit: str) -> ColumnChart:
    peak = max((by_slot.get(slot, 0) for slot in slots), default=0)
    base = COLUMN_HEIGHT - COLUMN_AXIS
    width = COLUMN_WIDTH / len(slots)
    columns = []
    for offset, slot in enumerate(slots):
        count = by_slot.get(slot, 0)
        height = round(count / peak * (base - 16), 1) if peak else 0.0
        x = round(offset * width + 2, 1)
        columns.append(Column(slot, count, x, base - height, round(width - 4, 1), height))
    return ColumnChart(COLUMN_WIDTH, COLUMN_HEIGHT, base, peak, columns, unit)
