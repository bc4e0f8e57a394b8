"""Reads of the ingestion domain.

"Processed" means "id at or below the watermark", the highest ``last_id`` of any batch
(see ingestion.models). Every read that mixes the log and the totals computes the watermark in
the same statement, so it sees one consistent snapshot even while a processor commits (the
statements are in ``ingestion.sql``).
"""

from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Max, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from ingestion import sql
from ingestion.models import Batch, Event


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
    return sql.event_pending_count()


@dataclass(frozen=True)
class UserRevenueSummary:
    user_id: str
    revenue: int
    pending_events: int


def user_revenue_summary_get(*, user_id: str) -> UserRevenueSummary | None:
    """The processed total and pending count of a user; None when the user has no events."""
    revenue, pending = sql.user_revenue_row(user_id=user_id)
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
    if user_ids is not None and not user_ids:
        return []
    rows = sql.revenue_difference_rows(user_ids=user_ids)
    return [RevenueDifference(user_id=u, stored=s, from_log=f) for u, s, f in rows]


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
