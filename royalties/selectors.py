"""Reads of the royalties domain: runs, the report of a succeeded run, users and entries."""

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db.models import Count, F, QuerySet, Sum

from core.errors import ConflictError, NotFoundError
from royalties import sql
from royalties.models import Entry, Label, Run, Subscriber, Track, run_id_range


def run_list() -> QuerySet[Run]:
    return Run.objects.order_by("-id")


def run_get(*, run_id: int) -> Run:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFoundError(f"Run {run_id} does not exist.")
    return run


NO_RUN_YET = "No consolidation run has succeeded yet."


def run_latest_succeeded(*, totals_only: bool = False) -> Run:
    """The run the reports serve. ``totals_only`` skips the warning and error lists (they can
    hold a thousand rejected rows that the compat endpoints never show)."""
    runs = Run.objects.filter(status=Run.Status.SUCCEEDED).order_by("-finished_at", "-id")
    if totals_only:
        runs = runs.defer("warnings", "errors", "checksums")
    run = runs.first()
    if run is None:
        raise NotFoundError(NO_RUN_YET)
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


def report_csv(*, run: Run) -> str:
    """The payout table of a succeeded run as CSV for accounting: one line per label, then
    ``(unattributed)`` and ``(total)``; amounts to the cent, shares to 8 places."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["label", "tracks", "streams", "seconds", "share", "amount"])
    for label in report_get(run=run).labels:
        share, amount = f"{label.share:.8f}", f"{label.amount:.2f}"
        writer.writerow([label.name, label.tracks, label.streams, label.seconds, share, amount])
    unattributed = [run.unattributed_streams, run.unattributed_seconds]
    writer.writerow(["(unattributed)", "", *unattributed, "", f"{run.unattributed_amount:.2f}"])
    writer.writerow(["(total)", "", "", run.total_seconds, "", f"{run.revenue:.2f}"])
    return out.getvalue()


@dataclass(frozen=True)
class PayoutDigest:
    """A run's payout table in a few characters: its labels, the top one (largest amount, then
    name), and the first 8 hex digits of the sha256 of every line (labels by name, then the
    unattributed line): equal digests, equal payouts."""

    labels: int
    top_label: str
    top_amount: Decimal
    digest: str


def payout_digests(*, runs: Sequence[Run]) -> dict[int, PayoutDigest]:
    """The payout digest of each succeeded run among ``runs`` (one query for all of them)."""
    by_run: dict[int, list[tuple[str, Decimal]]] = {}
    labels = Label.objects.filter(run__in=[run.pk for run in runs]).order_by("run_id", "name")
    for run_id, name, amount in labels.values_list("run_id", "name", "amount"):
        by_run.setdefault(run_id, []).append((name, amount))
    digests = {}
    for run in runs:
        lines = by_run.get(run.pk)
        if not lines:
            continue
        top_label, top_amount = min(lines, key=lambda line: (-line[1], line[0]))
        text = "".join(f"{name}\t{amount:.2f}\n" for name, amount in lines)
        text += f"(unattributed)\t{run.unattributed_amount or 0:.2f}\n"
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        digests[run.pk] = PayoutDigest(len(lines), top_label, top_amount, digest)
    return digests


@dataclass(frozen=True)
class RunResults:
    """What a run stored: its payout table and how many rows of each kind it has."""

    labels: Sequence[Label]
    tracks: int
    subscribers: int
    entries: int


def run_results(*, run: Run) -> RunResults:
    """A run's payout table and row counts (three queries whatever the run's size; nothing
    for a run that has not succeeded: a failed run stored nothing)."""
    if run.status != Run.Status.SUCCEEDED:
        return RunResults(labels=[], tracks=0, subscribers=0, entries=0)
    return RunResults(
        labels=report_get(run=run).labels,
        tracks=Track.objects.filter(run=run).count(),
        subscribers=Subscriber.objects.filter(run=run).count(),
        entries=int((run.rows or {}).get("loaded") or 0),
    )


def runs_with_results(*, limit: int = 50) -> list[tuple[int, datetime | None]]:
    """(id, finish time) of the latest succeeded runs, latest first (the reports' order)."""
    runs = Run.objects.filter(status=Run.Status.SUCCEEDED).order_by("-finished_at", "-id")
    return list(runs.values_list("pk", "finished_at")[:limit])


@dataclass(frozen=True)
class Listener:
    user_id: str
    streams: int
    seconds: int


def track_listeners(*, run_id: int, track_id: str) -> list[Listener]:
    """Streams and seconds per user of one track in one run, most seconds first (the run's
    entries are its primary-key range: ``run_id`` has no index)."""
    first, end = run_id_range(run_id)
    rows = (
        Entry.objects.filter(id__gte=first, id__lt=end, track_id=track_id)
        .values("user_id")
        .annotate(n=Count("*"), total=Sum("seconds"))
        .order_by(F("total").desc(), "user_id")
    )
    return [Listener(r["user_id"], r["n"], r["total"]) for r in rows]


@lru_cache(maxsize=16)
def _label_amounts(run_id: int, finished_at: datetime | None) -> tuple[tuple[str, Decimal], ...]:
    labels = Label.objects.filter(run_id=run_id).order_by("name")
    return tuple(labels.values_list("name", "amount"))


def label_amounts(*, run: Run) -> tuple[tuple[str, Decimal], ...]:
    """(label, amount) of a succeeded run, cached in the process: a succeeded run never changes
    (the finish time is part of the key, so a reused id can never hit a stale entry)."""
    return _label_amounts(run.pk, run.finished_at)


@lru_cache(maxsize=16)
def _label_amounts_as_numbers(run_id: int, finished_at: Any) -> dict[str, float]:
    return {name: float(amount) for name, amount in _label_amounts(run_id, finished_at)}


def label_amounts_latest() -> dict[str, float]:
    """Label -> amount as a JSON number, of the latest succeeded run (compat ``GET /report``,
    a hot read): one statement for the run's key; the answer is built once per run and kept
    in the process (converting 500 Decimals cost more than the statement). Read only."""
    key = sql.run_latest_succeeded_key()
    if key is None:
        raise NotFoundError(NO_RUN_YET)
    return _label_amounts_as_numbers(*key)


def subscriber_latest_seconds(*, user_id: str) -> tuple[str, int]:
    """(user id, seconds) of a user in the latest succeeded run, in one statement (compat
    ``GET /users/{id}``, a hot read)."""
    found = sql.subscriber_latest_seconds(user_id)
    if found is None:
        raise NotFoundError(NO_RUN_YET)
    run_id, found_user_id, seconds = found
    if found_user_id is None or seconds is None:
        raise NotFoundError(f"User {user_id} is not in run {run_id}.")
    return found_user_id, seconds


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
