"""Writes of the ingestion domain: accepting events, processing them, repairing totals.

Accepting is one INSERT ... ON CONFLICT DO NOTHING per request (or per batch), committed
before the API answers. Processing claims pending events, adds each user's net change to
``users_revenue`` with an upsert that adds, and marks the events with a batch, all in one
transaction (docs/decisions/0022-processing.md).
"""

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.batching import Batcher
from ingestion.models import Batch, Event, UserRevenue
from ingestion.selectors import RevenueDifference, revenue_differences
from ingestion.validation import CleanEvent

logger = logging.getLogger(__name__)

EVENTS = Event._meta.db_table
REVENUE = UserRevenue._meta.db_table
INSERT_COLUMNS = "user_id, name, value, amount, idempotency_key, credential, received_at"
ON_KEY_CONFLICT = (
    "ON CONFLICT (credential, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
)

EVENTS_BATCHER = Batcher(
    ref="ingestion.services.EVENTS_BATCHER",
    pending="ingestion.selectors.event_pending_queryset",
    threshold_setting="INGESTION_BATCH_SIZE",
    processor="ingestion.services.events_process_pending",
)


def credential_id(*, secret: str) -> str:
    """A stable, non-reversible name for one configured secret (stored with each event)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _db_now():
    return connection.ops.adapt_datetimefield_value(timezone.now())


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
    row = [event.user_id, event.name, event.value, event.amount, key, credential, _db_now()]
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute(
                f"INSERT INTO {EVENTS} ({INSERT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                f"{ON_KEY_CONFLICT} RETURNING id",
                row,
            )
            inserted = cursor.fetchone()
            if inserted is not None:
                EVENTS_BATCHER.notify()
                return Accepted(id=inserted[0], duplicate=False)
            cursor.execute(
                f"SELECT id FROM {EVENTS} WHERE credential = %s AND idempotency_key = %s",
                [credential, key],
            )
            original = cursor.fetchone()
            if original is not None:
                return Accepted(id=original[0], duplicate=True)
            # The conflicting key was released (retention) between the two statements: retry.
    raise RuntimeError("could not store or find the event after 3 attempts")


@dataclass(frozen=True)
class BatchAccepted:
    accepted: int
    duplicates: int


def events_accept_many(
    *, credential: str, events: Sequence[tuple[CleanEvent, str | None]]
) -> BatchAccepted:
    """Store many events in one transaction; ``events`` pairs each event with its fallback key.

    A key seen twice in the same batch counts the second one as a duplicate; keys already
    stored count as duplicates through ON CONFLICT DO NOTHING (rowcount = rows inserted).
    """
    rows: list[tuple] = []
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
    if not rows:
        return BatchAccepted(accepted=0, duplicates=duplicates)

    now = _db_now()
    inserted = 0
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Five array parameters whatever the batch size: no parameter limit, fast binding.
            columns = list(zip(*rows, strict=True))
            cursor.execute(
                f"INSERT INTO {EVENTS} ({INSERT_COLUMNS}) "
                "SELECT u, n, v, a, k, %s, %s FROM unnest("
                "%s::varchar[], %s::varchar[], %s::bigint[], %s::bigint[], %s::varchar[]"
                f") AS t(u, n, v, a, k) {ON_KEY_CONFLICT}",
                [credential, now, *(list(column) for column in columns)],
            )
            inserted = cursor.rowcount
        else:
            per_row = 7
            chunk = max(1, (connection.features.max_query_params or 999) // per_row)
            for start in range(0, len(rows), chunk):
                part = rows[start : start + chunk]
                values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(part))
                params = [p for row in part for p in (*row, credential, now)]
                cursor.execute(
                    f"INSERT INTO {EVENTS} ({INSERT_COLUMNS}) VALUES {values} {ON_KEY_CONFLICT}",
                    params,
                )
                inserted += cursor.rowcount
        if inserted:
            EVENTS_BATCHER.notify()
    return BatchAccepted(accepted=inserted, duplicates=duplicates + len(rows) - inserted)


def _processing_checkpoint(*, stage: str, batch_id: int) -> None:
    """Called inside the processing transaction after each step (a seam for failure tests)."""


@dataclass(frozen=True)
class ProcessedBatch:
    batch_id: int
    size: int
    users: int


# Claim, mark and add in one statement: the claimed rows are locked (other processors skip
# them), aggregated per user, and added to the totals in user order (a fixed lock order, so
# two processors never deadlock on users_revenue rows).
_PROCESS_POSTGRES = f"""
WITH claimed AS (
    UPDATE {EVENTS} AS e SET batch_id = %(batch)s
    WHERE e.id IN (
        SELECT id FROM {EVENTS} WHERE batch_id IS NULL
        ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
    )
    RETURNING e.user_id, e.amount
), totals AS (
    SELECT user_id, SUM(amount) AS total, COUNT(*) AS n FROM claimed GROUP BY user_id
), added AS (
    INSERT INTO {REVENUE} AS r (user_id, revenue, updated_at)
    SELECT user_id, total, %(now)s FROM totals ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE
        SET revenue = r.revenue + EXCLUDED.revenue, updated_at = EXCLUDED.updated_at
    RETURNING 1
)
SELECT COALESCE(SUM(n), 0), COUNT(*) FROM totals
"""

# SQLite has no data-modifying CTEs; the IMMEDIATE transaction holds the write lock, so the
# two statements see the same pending rows.
_PENDING_SQLITE = f"SELECT id FROM {EVENTS} WHERE batch_id IS NULL ORDER BY id LIMIT %(limit)s"
_ADD_SQLITE = f"""
INSERT INTO {REVENUE} AS r (user_id, revenue, updated_at)
SELECT user_id, SUM(amount), %(now)s FROM {EVENTS} WHERE id IN ({_PENDING_SQLITE})
GROUP BY user_id ORDER BY user_id
ON CONFLICT (user_id) DO UPDATE
    SET revenue = r.revenue + EXCLUDED.revenue, updated_at = EXCLUDED.updated_at
"""
_MARK_SQLITE = f"UPDATE {EVENTS} SET batch_id = %(batch)s WHERE id IN ({_PENDING_SQLITE})"


def events_process_batch(*, limit: int | None = None) -> ProcessedBatch | None:
    """Fold at most ``limit`` pending events into the totals, in one transaction.

    Returns None (and writes nothing) when no event was pending or unlocked.
    """
    limit = limit or settings.INGESTION_PROCESS_CLAIM
    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.create(created_at=now)
        params = {"batch": batch.pk, "limit": limit, "now": _db_now()}
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(_PROCESS_POSTGRES, params)
                size, users = cursor.fetchone()
            else:
                cursor.execute(_ADD_SQLITE, params)
                users = cursor.rowcount
                cursor.execute(_MARK_SQLITE, params)
                size = cursor.rowcount
        _processing_checkpoint(stage="aggregated", batch_id=batch.pk)
        if not size:
            transaction.set_rollback(True)
            return None
        Batch.objects.filter(pk=batch.pk).update(size=size, users=users)
    return ProcessedBatch(batch_id=batch.pk, size=int(size), users=int(users))


def events_process_pending(
    *,
    limit: int | None = None,
    max_events: int | None = None,
    on_batch: Callable[[ProcessedBatch], None] | None = None,
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

    The totals table is locked while it runs (on PostgreSQL; SQLite's IMMEDIATE transaction
    already excludes other writers), so a processor committing meanwhile cannot be lost or
    counted twice: it either committed before (its events are in the sums) or waits and adds
    after. Returns the differences it repaired.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {REVENUE} IN EXCLUSIVE MODE")
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
