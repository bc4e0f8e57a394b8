"""Reads of the royalties domain: runs, the report of a succeeded run, users and entries."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db.models import QuerySet

from core.errors import ConflictError, NotFoundError
from royalties.models import Entry, Label, Run, Subscriber, Track


def run_list() -> QuerySet[Run]:
    return Run.objects.order_by("-id")


def run_get(*, run_id: int) -> Run:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFoundError(f"Run {run_id} does not exist.")
    return run


def run_latest_succeeded(*, totals_only: bool = False) -> Run:
    """The run the reports serve. ``totals_only`` skips the warning and error lists (they can
    hold a thousand rejected rows that the compat endpoints never show)."""
    runs = Run.objects.filter(status=Run.Status.SUCCEEDED).order_by("-finished_at", "-id")
    if totals_only:
        runs = runs.defer("warnings", "errors", "checksums")
    run = runs.first()
    if run is None:
        raise NotFoundError("No consolidation run has succeeded yet.")
    return run


def run_reported(*, run_id: int | None = None) -> Run:
    """The run a report is served from: the given one (it must have succeeded) or the latest."""
    if run_id is None:
        return run_latest_succeeded()
    run = run_get(run_id=run_id)
    if run.status != Run.Status.SUCCEEDED:
        raise ConflictError(
            f"Run {run_id} is {run.status}; only a succeeded run has a report.",
            code="run_not_succeeded",
        )
    return run


@dataclass(frozen=True)
class Report:
    run: Run
    labels: Sequence[Label]


def report_get(*, run: Run) -> Report:
    return Report(run=run, labels=list(Label.objects.filter(run=run).order_by("name")))


@lru_cache(maxsize=16)
def _label_amounts(run_id: int, finished_at: datetime | None) -> tuple[tuple[str, Decimal], ...]:
    labels = Label.objects.filter(run_id=run_id).order_by("name")
    return tuple(labels.values_list("name", "amount"))


def label_amounts(*, run: Run) -> tuple[tuple[str, Decimal], ...]:
    """(label, amount) of a succeeded run, cached in the process: a succeeded run never changes
    (the finish time is part of the key, so a reused id can never hit a stale entry)."""
    return _label_amounts(run.pk, run.finished_at)


def subscriber_get(*, run: Run, user_id: str) -> Subscriber:
    subscriber = Subscriber.objects.filter(run=run, user_id=user_id).first()
    if subscriber is None:
        raise NotFoundError(f"User {user_id} is not in run {run.pk}.")
    return subscriber


def subscriber_list(*, run: Run) -> QuerySet[Subscriber]:
    return Subscriber.objects.filter(run=run).order_by("user_id")


def entry_list(*, run: Run) -> QuerySet[Entry]:
    return Entry.objects.filter(run=run).order_by("id")


def entries_consolidated(*, run: Run, entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """Entries with their subscriber and track fields (two queries for a whole page)."""
    user_ids = {entry.user_id for entry in entries}
    track_ids = {entry.track_id for entry in entries}
    subscribers = {
        s.user_id: s
        for s in Subscriber.objects.filter(run=run, user_id__in=user_ids, subscribed=True)
    }
    tracks = {t.track_id: t for t in Track.objects.filter(run=run, track_id__in=track_ids)}
    rows = []
    for entry in entries:
        subscriber = subscribers.get(entry.user_id)
        track = tracks.get(entry.track_id)
        rows.append(
            {
                "date": entry.date,
                "user_id": entry.user_id,
                "product_type": subscriber.product_type if subscriber else None,
                "fee": subscriber.fee if subscriber else None,
                "origin": subscriber.origin if subscriber else None,
                "region": entry.region,
                "track_id": entry.track_id,
                "track_name": track.name if track else None,
                "track_label": track.label if track else None,
                "seconds": entry.seconds,
            }
        )
    return rows
