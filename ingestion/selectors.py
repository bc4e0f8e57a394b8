"""Reads of the ingestion domain."""

from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from ingestion.models import Event, UserRevenue

EVENTS = Event._meta.db_table
REVENUE = UserRevenue._meta.db_table


def event_pending_queryset() -> QuerySet[Event]:
    return Event.objects.filter(batch__isnull=True)


def event_pending_count() -> int:
    return event_pending_queryset().count()


@dataclass(frozen=True)
class UserRevenueSummary:
    user_id: str
    revenue: int
    pending_events: int


def user_revenue_summary_get(*, user_id: str) -> UserRevenueSummary | None:
    """The processed total and pending count of a user; None when the user has no events."""
    with connection.cursor() as cursor:
        # One round trip; both sides use an index (the primary key, the partial pending index).
        cursor.execute(
            f"SELECT (SELECT revenue FROM {REVENUE} WHERE user_id = %s),"
            f" (SELECT COUNT(*) FROM {EVENTS} WHERE user_id = %s AND batch_id IS NULL)",
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
    """Users whose stored total differs from the sum of their processed events in the log.

    One statement, so it reads one consistent snapshot even while processors run.
    """
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
            f"  WHERE batch_id IS NOT NULL{where_events}"
            f" UNION ALL SELECT user_id, revenue, 0 FROM {REVENUE}{where_totals}"
            f") AS t GROUP BY user_id HAVING SUM(stored) <> SUM(from_log) ORDER BY user_id",
            params,
        )
        rows = cursor.fetchall()
    return [RevenueDifference(user_id=u, stored=int(s), from_log=int(f)) for u, s, f in rows]
