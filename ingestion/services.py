"""Writes of the ingestion domain: accepting events, processing them, repairing totals.

Accepting is one INSERT ... ON CONFLICT DO NOTHING per request (or per batch), committed
before the API answers. Processing folds the next id range of the log into ``users_revenue``
with an upsert that adds, and records the range as a batch, in one transaction
(docs/decisions/0022-processing-watermark.md). The statements, their advisory locks and their
PostgreSQL and SQLite forms are in ``ingestion.sql``.
"""

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.batching import Batcher
from core.sql import event_range_claim
from ingestion import sql
from ingestion.models import Batch, Event, UserRevenue
from ingestion.selectors import RevenueDifference, revenue_differences, watermark_get
from ingestion.sql import REVENUE_MAX, REVENUE_MIN
from ingestion.validation import CleanEvent

logger = logging.getLogger(__name__)

EVENTS_BATCHER = Batcher(
    ref="ingestion.services.EVENTS_BATCHER",
    pending="ingestion.selectors.event_pending_queryset",
    threshold_setting="INGESTION_BATCH_SIZE",
    processor="ingestion.services.events_process_pending",
)


def credential_id(*, secret: str) -> str:
    """A stable, non-reversible name for one configured secret (stored with each event)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Accepted:
    id: int
    duplicate: bool


def event_accept(*, credential: str, event: CleanEvent, idempotency_key: str | None) -> Accepted:
    """Store one event durably (autocommit: committed when this returns).

    ``eventId`` takes precedence over the ``Idempotency-Key`` header. A key already stored for
    this credential returns the original event's id with ``duplicate=True``; concurrent
    duplicates are settled by the unique index (the loser's INSERT does nothing).
    """
    key = event.event_id or idempotency_key
    row = (event.user_id, event.name, event.value, event.amount, key)
    for _ in range(3):
        inserted = sql.event_insert(row=row, credential=credential, received_at=sql.db_now())
        if inserted is not None:
            EVENTS_BATCHER.notify()
            return Accepted(id=inserted, duplicate=False)
        original = sql.event_id_by_key(credential=credential, key=key)
        if original is not None:
            return Accepted(id=original, duplicate=True)
        # The conflicting key was released (retention) between the two statements: retry.
    raise RuntimeError("could not store or find the event after 3 attempts")


@dataclass(frozen=True)
class BatchAccepted:
    accepted: int
    duplicates: int


def _rows_unique(
    events: Sequence[tuple[CleanEvent, str | None]],
) -> tuple[list[sql.EventRow], int]:
    """The rows to insert, a key's repeats within the batch left out; and how many those were."""
    rows: list[sql.EventRow] = []
    seen: set[str] = set()
    duplicates = 0
    for event, fallback_key in events:
        key = event.event_id or fallback_key
        if key is not None:
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
        rows.append((event.user_id, event.name, event.value, event.amount, key))
    return rows, duplicates


def events_accept_many(
    *, credential: str, events: Sequence[tuple[CleanEvent, str | None]]
) -> BatchAccepted:
    """Store many events in one transaction; ``events`` pairs each event with its fallback key.

    A key seen twice in the same batch counts the second one as a duplicate; keys already
    stored count as duplicates through ON CONFLICT DO NOTHING (rowcount = rows inserted).
    """
    rows, duplicates = _rows_unique(events)
    if not rows:
        return BatchAccepted(accepted=0, duplicates=duplicates)

    with transaction.atomic():
        inserted = sql.events_insert_many(
            rows=rows, credential=credential, received_at=sql.db_now()
        )
        if inserted:
            EVENTS_BATCHER.notify()
    return BatchAccepted(accepted=inserted, duplicates=duplicates + len(rows) - inserted)


@dataclass(frozen=True)
class ProcessedBatch:
    batch_id: int
    size: int
    users: int


# At-risk users (those whose events of the range could take a total out of the BIGINT range,
# in practice none) are folded event by event in Python, leaving out the events that would
# overflow (docs/decisions/0024-revenue-range.md); everyone else by one aggregate in SQL.


def _fold_one_by_one(*, user_ids: list[str], after: int, upto: int, now: datetime) -> int:
    """Add each at-risk user's events of the range in id order, leaving out (and marking)
    every event that would take the total out of range. Returns how many were left out."""
    left_out: list[int] = []
    for user_id in user_ids:
        row = UserRevenue.objects.filter(pk=user_id).values_list("revenue", flat=True).first()
        revenue = row or 0
        events = Event.objects.filter(user_id=user_id, id__gt=after, id__lte=upto)
        for event_id, amount in events.order_by("id").values_list("id", "amount").iterator():
            if REVENUE_MIN <= revenue + amount <= REVENUE_MAX:
                revenue += amount
            else:
                left_out.append(event_id)
        UserRevenue.objects.update_or_create(
            user_id=user_id, defaults={"revenue": revenue, "updated_at": now}
        )
    for start in range(0, len(left_out), 1000):
        Event.objects.filter(id__in=left_out[start : start + 1000]).update(out_of_range=True)
    if left_out:
        logger.warning(
            "ingestion: %d events of %s left out: they would take a total out of range",
            len(left_out),
            ", ".join(user_ids),
        )
    return len(left_out)


def events_process_batch(*, limit: int | None = None) -> ProcessedBatch | None:
    """Fold the next at most ``limit`` pending events into the totals, in one transaction.

    Returns None (and writes nothing) when no event is pending.
    """
    limit = limit or settings.INGESTION_PROCESS_CLAIM
    with transaction.atomic(), connection.cursor() as cursor:
        sql.processor_lock(cursor)
        after = watermark_get()
        upto = event_range_claim(
            cursor, table=sql.EVENTS, writer_lock=sql.WRITER_LOCK, after=after, limit=limit
        )
        if upto is None:
            return None
        folded = sql.revenue_fold(cursor, after=after, upto=upto, now=sql.db_now())
        out_of_range = 0
        if folded.at_risk:
            out_of_range = _fold_one_by_one(
                user_ids=folded.at_risk, after=after, upto=upto, now=timezone.now()
            )
        # Recorded even when the range holds no event (ids skipped by rollbacks or by
        # duplicates), so the watermark moves past it.
        batch = Batch.objects.create(
            created_at=timezone.now(),
            first_id=after + 1,
            last_id=upto,
            size=folded.events,
            users=folded.users,
            out_of_range=out_of_range,
        )
    return ProcessedBatch(batch_id=batch.pk, size=folded.events, users=folded.users)


def events_process_pending(
    *,
    limit: int | None = None,
    max_events: int | None = None,
    on_batch: Callable[[ProcessedBatch], object] | None = None,
) -> int:
    """Process batches until nothing is pending (or ``max_events`` are done). Returns a count."""
    total = 0
    while max_events is None or total < max_events:
        claim = limit or settings.INGESTION_PROCESS_CLAIM
        if max_events is not None:
            claim = min(claim, max_events - total)
        processed = events_process_batch(limit=claim)
        if processed is None:
            break
        total += processed.size
        if on_batch is not None:
            on_batch(processed)
    if total:
        logger.info("ingestion: processed %d events", total)
    return total


def revenue_rebuild(*, user_ids: list[str] | None = None) -> list[RevenueDifference]:
    """Set the stored totals of the given users (or all) to the sum of their processed events.

    It holds the processor lock (on PostgreSQL; SQLite's IMMEDIATE transaction already
    excludes other writers), so no processor commits meanwhile: the watermark and the totals
    it reads belong together. Returns the differences it repaired.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            sql.processor_lock(cursor)
        differences = revenue_differences(user_ids=user_ids)
        now = timezone.now()
        for difference in differences:
            UserRevenue.objects.update_or_create(
                user_id=difference.user_id,
                defaults={"revenue": difference.from_log, "updated_at": now},
            )
    for difference in differences:
        logger.warning(
            "ingestion: repaired %s: stored %d, log %d",
            difference.user_id,
            difference.stored,
            difference.from_log,
        )
    return differences


def events_idempotency_expire(*, days: int | None = None) -> int:
    """Forget idempotency keys older than the retention window (the events themselves stay)."""
    days = settings.INGESTION_IDEMPOTENCY_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    return Event.objects.filter(idempotency_key__isnull=False, received_at__lt=cutoff).update(
        idempotency_key=None
    )
