"""Reads of the analytics domain.

Summaries are fresh on read: each merges the rollups with the pending events (ids above the
watermark) in one statement, so an event is counted from the moment collect answered 202,
exactly once, whether or not a processor has folded it (analytics.sql).
"""

import uuid
from dataclasses import dataclass
from datetime import date

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Count, F, Max, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from analytics import fold, sql
from analytics.models import ApiKey, App, Batch, DailyCount, Event
from core.errors import NotFoundError

UNKNOWN_DEVICE = "unknown"


def app_get_owned(*, owner: User, app_id: uuid.UUID | str, for_update: bool = False) -> App:
    """The owner's app, or NotFoundError (another owner's app is not found either)."""
    try:
        app_uuid = uuid.UUID(str(app_id))
    except ValueError:
        raise NotFoundError("No such app among yours.") from None
    queryset = App.objects.select_for_update() if for_update else App.objects.all()
    app = queryset.filter(pk=app_uuid, owner=owner).first()
    if app is None:
        raise NotFoundError("No such app among yours.")
    return app


def api_key_live_get(*, app: App) -> ApiKey | None:
    """The app's live key, else its latest key (so a revoked key's metadata still reads)."""
    # NULL (live) first on every database: PostgreSQL sorts NULLs last by default.
    live_first = F("revoked_at").asc(nulls_first=True)
    return ApiKey.objects.filter(app=app).order_by(live_first, "-created_at").first()


def watermark_expression() -> Coalesce:
    latest = Batch.objects.order_by("-last_id").values("last_id")[:1]
    return Coalesce(Subquery(latest), Value(0))


def watermark_get() -> int:
    return Batch.objects.aggregate(m=Max("last_id"))["m"] or 0


def event_pending_queryset() -> QuerySet[Event]:
    return Event.objects.filter(id__gt=watermark_expression())


def event_pending_count() -> int:
    return sql.event_pending_count()


@dataclass(frozen=True)
class EventSummary:
    event: str
    count: int
    unique_users: int
    device_data: dict[str, int]


def event_summary_get(
    *,
    owner: User,
    event: str,
    start: date | None,
    end: date | None,
    app_id: uuid.UUID | None = None,
) -> EventSummary:
    """Counts of one event over the owner's apps (or one of them), dates inclusive (UTC)."""
    if app_id is not None:
        app_id = app_get_owned(owner=owner, app_id=app_id).pk
    rows, unique_users = sql.event_summary_rows(
        owner_id=owner.pk, app_id=app_id, event=event, start=start, end=end
    )
    devices = {(device or UNKNOWN_DEVICE): n for device, n in rows}
    return EventSummary(
        event=event,
        count=sum(devices.values()),
        unique_users=unique_users,
        device_data=dict(sorted(devices.items())),
    )


@dataclass(frozen=True)
class UserStats:
    user_id: str
    total_events: int
    browser: str
    os: str
    ip_address: str


def user_stats_get(*, owner: User, user_id: str, app_id: uuid.UUID | None = None) -> UserStats:
    if app_id is not None:
        app_id = app_get_owned(owner=owner, app_id=app_id).pk
    row = sql.user_stats_row(owner_id=owner.pk, app_id=app_id, user_id=user_id)
    if row is None:
        raise NotFoundError("No events for this user.")
    total, browser, os, ip = row
    return UserStats(
        user_id=user_id, total_events=int(total), browser=browser, os=os, ip_address=str(ip)
    )


@dataclass(frozen=True)
class RollupDifference:
    table: str
    detail: str


def rollup_differences() -> list[RollupDifference]:
    """Rollup rows that differ from the processed log (at most 100 per table and direction)."""
    with connection.cursor() as cursor:
        rows = fold.rollup_differences_rows(cursor)
    return [RollupDifference(table=table, detail=detail) for table, detail in rows]


@dataclass(frozen=True)
class DayCount:
    day: date
    app_id: uuid.UUID
    app_name: str
    count: int


def events_per_day_per_app(*, days: int = 30) -> list[DayCount]:
    """Processed events per day and app over the last ``days`` days with data (admin chart)."""
    latest = DailyCount.objects.aggregate(m=Max("day"))["m"]
    if latest is None:
        return []
    from datetime import timedelta

    rows = (
        DailyCount.objects.filter(day__gt=latest - timedelta(days=days))
        .values("day", "app_id", "app__name")
        .annotate(n=Sum("count"))
        .order_by("day", "app__name")
    )
    return [
        DayCount(day=r["day"], app_id=r["app_id"], app_name=r["app__name"], count=r["n"])
        for r in rows
    ]


def app_list_for_owner(*, owner: User) -> QuerySet[App]:
    return App.objects.filter(owner=owner).annotate(key_count=Count("keys"))


def app_ids_with_events(*, app_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these apps have events in the log: one ``EXISTS`` per app, each stopping at the
    first event found (the log has no index by app, and needs none but here)."""
    return {app_id for app_id in app_ids if Event.objects.filter(app_id=app_id).exists()}
