"""Reads of the ingestion domain.

"Processed" means "id at or below the watermark", the highest ``last_id`` of any batch
(see ingestion.models). Every read that mixes the log and the totals computes the watermark in
the same statement, so it sees one consistent snapshot even while a processor commits.
"""

from dataclasses import dataclass
from datetime import date, datetime, time

from django.db import connection
from django.db.models import Max, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from ingestion.models import Batch, Event, UserRevenue

EVENTS = Event._meta.db_table
BATCHES = Batch._meta.db_table
REVENUE = UserRevenue._meta.db_table
WATERMARK_SQL = f"(SELECT COALESCE(MAX(last_id), 0) FROM {BATCHES})"


def watermark_expression() -> Coalesce:
    latest = Batch.objects.order_by("-last_id").values("last_id")[:1]
    return Coalesce(Subquery(latest), Value(0))


def watermark_get() -> int:
    return Batch.objects.aggregate(m=Max("last_id"))["m"] or 0


def event_pending_queryset() -> QuerySet[Event]:
    return Event.objects.filter(id__gt=watermark_expression())


def event_processed_queryset() -> QuerySet[Event]:
    return Event.objects.filter(id__lte=watermark_expression())


def event_pending_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {EVENTS} WHERE id > {WATERMARK_SQL}")
        return int(cursor.fetchone()[0])


@dataclass(frozen=True)
class UserRevenueSummary:
    user_id: str
    revenue: int
    pending_events: int


def user_revenue_summary_get(*, user_id: str) -> UserRevenueSummary | None:
    """The processed total and pending count of a user; None when the user has no events."""
    with connection.cursor() as cursor:
        # One round trip: the total by primary key, the pending count on (user_id, id).
        cursor.execute(
            f"SELECT (SELECT revenue FROM {REVENUE} WHERE user_id = %s),"
            f" (SELECT COUNT(*) FROM {EVENTS} WHERE user_id = %s AND id > {WATERMARK_SQL})",
            [user_id, user_id],
        )
        revenue, pending = cursor.fetchone()
    if revenue is None and not pending:
        return None
    return UserRevenueSummary(user_id=user_id, revenue=revenue or 0, pending_events=pending)


@dataclass(frozen=True)
class RevenueDifference:
    user_id: str
    stored: int
    from_log: int


def revenue_differences(*, user_ids: list[str] | None = None) -> list[RevenueDifference]:
    """Users whose stored total differs from the sum of their processed events in the log
    (those left out as out of range excepted)."""
    where_events, where_totals, params = "", "", []
    if user_ids is not None:
        if not user_ids:
            return []
        marks = ", ".join(["%s"] * len(user_ids))
        where_events = f" AND user_id IN ({marks})"
        where_totals = f" WHERE user_id IN ({marks})"
        params = [*user_ids, *user_ids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT user_id, SUM(stored), SUM(from_log) FROM ("
            f" SELECT user_id, 0 AS stored, amount AS from_log FROM {EVENTS}"
            f"  WHERE id <= {WATERMARK_SQL} AND NOT out_of_range{where_events}"
            f" UNION ALL SELECT user_id, revenue, 0 FROM {REVENUE}{where_totals}"
            f") AS t GROUP BY user_id HAVING SUM(stored) <> SUM(from_log) ORDER BY user_id",
            params,
        )
        rows = cursor.fetchall()
    return [RevenueDifference(user_id=u, stored=int(s), from_log=int(f)) for u, s, f in rows]


def events_processed_per_day(*, since: date) -> list[tuple[date, int]]:
    """(UTC day, events folded that day) from ``since`` on, days without any left out: read from
    the batches (one row per processor run), not the event log."""
    start = datetime.combine(since, time.min, tzinfo=timezone.get_current_timezone())
    rows = (
        Batch.objects.filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(events=Sum("size"))
        .order_by("day")
    )
    return [(row["day"], int(row["events"])) for row in rows]
