"""The figures of the admin's dashboard (the index page), read through each domain's selectors.

A fixed number of queries whatever the row counts (tests/core/test_dashboard.py counts them):
each figure is one aggregate or one bounded list, and nothing is read per row.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from analytics.selectors import event_pending_count as analytics_pending_count
from analytics.selectors import events_per_day_per_app
from core.errors import NotFoundError
from core.selectors import Health, health_get
from ingestion.selectors import event_pending_count as ingestion_pending_count
from ingestion.selectors import events_processed_per_day
from royalties.selectors import label_amounts, run_latest_succeeded
from streams.selectors import (
    Refusals,
    refusals_get,
    refusals_per_hour,
    session_active_count,
)
from webhooks.selectors import QueueState, queue_state_get

# Days the event charts cover (ingestion: up to today; analytics: up to its latest day).
CHART_DAYS = 14
# The window of "refused lately" for streams, and the hours its chart covers (up to this one).
REFUSALS_WINDOW = timedelta(hours=1)
REFUSAL_CHART_HOURS = 24


@dataclass(frozen=True)
class LatestRun:
    run_id: int
    finished_at: datetime | None
    revenue: Decimal
    labels: tuple[tuple[str, Decimal], ...]  # (label, amount), by name
    unattributed: Decimal


@dataclass(frozen=True)
class Pending:
    ingestion_events: int
    analytics_events: int
    webhooks_due: int  # provider fetches and callback deliveries due now
    tasks_queued: int  # django-q tasks waiting for a worker


@dataclass(frozen=True)
class Dashboard:
    latest_run: LatestRun | None
    ingestion_per_day: list[tuple[date, int]]
    analytics_per_day: list[tuple[date, int]]
    active_streams: int
    refusals: Refusals
    refusals_per_hour: list[tuple[datetime, int]]
    this_hour: datetime
    webhooks: QueueState
    health: Health
    pending: Pending


def dashboard_get() -> Dashboard:
    now = timezone.now()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    webhooks = queue_state_get()
    return Dashboard(
        latest_run=_latest_run_get(),
        ingestion_per_day=events_processed_per_day(since=now.date() - timedelta(CHART_DAYS - 1)),
        analytics_per_day=_analytics_per_day(),
        active_streams=session_active_count(),
        refusals=refusals_get(since=now - REFUSALS_WINDOW),
        refusals_per_hour=refusals_per_hour(
            since=this_hour - timedelta(hours=REFUSAL_CHART_HOURS - 1)
        ),
        this_hour=this_hour,
        webhooks=webhooks,
        health=health_get(),
        pending=Pending(
            ingestion_events=ingestion_pending_count(),
            analytics_events=int(analytics_pending_count()),
            webhooks_due=webhooks.fetches_due + webhooks.deliveries_due,
            tasks_queued=_tasks_queued(),
        ),
    )


def _latest_run_get() -> LatestRun | None:
    try:
        run = run_latest_succeeded(totals_only=True)
    except NotFoundError:
        return None
    return LatestRun(
        run_id=run.pk,
        finished_at=run.finished_at,
        revenue=run.revenue or Decimal(0),
        labels=label_amounts(run=run),
        unattributed=run.unattributed_amount or Decimal(0),
    )


def _analytics_per_day() -> list[tuple[date, int]]:
    totals: dict[date, int] = {}
    for row in events_per_day_per_app(days=CHART_DAYS):
        totals[row.day] = totals.get(row.day, 0) + row.count
    return sorted(totals.items())


def _tasks_queued() -> int:
    from django_q.brokers import get_broker

    return int(get_broker().queue_size())
