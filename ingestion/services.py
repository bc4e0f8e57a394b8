"""Writes of the ingestion domain: accepting events, processing them, repairing totals.

Accepting is one INSERT ... ON CONFLICT DO NOTHING per request (or per batch), committed
before the API answers. Processing folds the next id range of the log into ``users_revenue``
with an upsert that adds, and records the range as a batch, in one transaction
(docs/decisions/0022-processing-watermark.md).

Two advisory locks (PostgreSQL; SQLite's IMMEDIATE transactions already serialise writers):
- ``WRITER_LOCK``: every insert holds it shared for its statement or transaction, taken
  before the sequence hands out ids. A processor takes it exclusively for an instant after
  reading MAX(id): every id up to that MAX then belongs to a finished transaction, so no
  event can appear later below the watermark.
- ``PROCESSOR_LOCK``: processors (and rebuilds) hold it for their transaction, so ranges are
  folded one after the other; a second processor waits, then takes the next range.
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
from ingestion.selectors import RevenueDifference, revenue_differences, watermark_get
from ingestion.validation import CleanEvent

logger = logging.getLogger(__name__)

EVENTS = Event._meta.db_table
REVENUE = UserRevenue._meta.db_table
INSERT_COLUMNS = "user_id, name, value, amount, idempotency_key, credential, received_at"
ON_KEY_CONFLICT = (
    "ON CONFLICT (credential, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
)

# Two arbitrary, fixed advisory lock keys (64-bit), private to this domain.
WRITER_LOCK = 7_324_001_001
PROCESSOR_LOCK = 7_324_001_002

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
    if connection.vendor == "postgresql":
        # The lock is taken in the inner query, before the outer one draws the id.
        sql = (
            f"INSERT INTO {EVENTS} ({INSERT_COLUMNS}) SELECT %s, %s, %s, %s, %s, %s, %s "
            f"FROM (SELECT pg_advisory_xact_lock_shared({WRITER_LOCK})) AS writer_lock "
            f"{ON_KEY_CONFLICT} RETURNING id"
        )
    else:
        sql = (
            f"INSERT INTO {EVENTS} ({INSERT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            f"{ON_KEY_CONFLICT} RETURNING id"
        )
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute(sql, row)
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
            cursor.execute(f"SELECT pg_advisory_xact_lock_shared({WRITER_LOCK})")
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


def _processing_checkpoint(*, stage: str, after: int, upto: int) -> None:
    """Called inside the processing transaction after each step (a seam for failure tests)."""


@dataclass(frozen=True)
class ProcessedBatch:
    batch_id: int
    size: int
    users: int


# A total is a BIGINT. A user's events of the range are "at risk" when, in some order, they
# could take the total out of that range: the range's rises or falls alone, or added to the
# stored total, pass a bound. At-risk users (in practice none) are folded event by event in
# Python, leaving out the events that would overflow (docs/decisions/0024-revenue-range.md);
# everyone else is folded by the one aggregate below.
REVENUE_MIN, REVENUE_MAX = -(2**63), 2**63 - 1

# Aggregate the range per user and add to the totals in user order (a fixed lock order).
# PostgreSQL sums BIGINTs into NUMERIC, so the bounds are checked exactly, in the same
# statement; the at-risk users come back in the third column.
_FOLD_POSTGRES = f"""
WITH totals AS (
    SELECT user_id, SUM(amount) AS total, SUM(GREATEST(amount, 0)) AS up,
        SUM(LEAST(amount, 0)) AS down, COUNT(*) AS n
    FROM {EVENTS} WHERE id > %(after)s AND id <= %(upto)s GROUP BY user_id
), checked AS (
    SELECT t.user_id, t.total, t.n, (
        t.up > %(max)s OR t.down < %(min)s
        OR COALESCE(r.revenue, 0) + t.up > %(max)s OR COALESCE(r.revenue, 0) + t.down < %(min)s
    ) AS at_risk
    FROM totals AS t LEFT JOIN {REVENUE} AS r ON r.user_id = t.user_id
), added AS (
    INSERT INTO {REVENUE} AS r (user_id, revenue, updated_at)
    SELECT user_id, total, %(now)s FROM checked WHERE NOT at_risk ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE
        SET revenue = r.revenue + EXCLUDED.revenue, updated_at = EXCLUDED.updated_at
    RETURNING 1
)
SELECT COALESCE(SUM(n), 0), COUNT(*),
    COALESCE(array_agg(user_id ORDER BY user_id) FILTER (WHERE at_risk), '{{}}')
FROM checked
"""
# SQLite has no data-modifying CTEs and raises on an integer SUM that overflows: count and
# find the at-risk users first (TOTAL() is a float, so its bound is 2**62, far enough from
# 2**63 that rounding cannot hide an overflow), then add the others (the IMMEDIATE
# transaction holds the write lock, so every statement sees the same rows).
_COUNT_SQLITE = f"""
SELECT user_id, COUNT(*), (
    TOTAL(MAX(amount, 0)) > %(bound)s OR TOTAL(MIN(amount, 0)) < -%(bound)s
    OR COALESCE(r.revenue, 0) + TOTAL(MAX(amount, 0)) > %(bound)s
    OR COALESCE(r.revenue, 0) + TOTAL(MIN(amount, 0)) < -%(bound)s
)
FROM {EVENTS} LEFT JOIN {REVENUE} AS r USING (user_id)
WHERE id > %(after)s AND id <= %(upto)s GROUP BY user_id
"""
_FOLD_SQLITE = f"""
INSERT INTO {REVENUE} AS r (user_id, revenue, updated_at)
SELECT user_id, SUM(amount), %(now)s FROM {EVENTS} WHERE id > %(after)s AND id <= %(upto)s
    {{skip}}
GROUP BY user_id ORDER BY user_id
ON CONFLICT (user_id) DO UPDATE
    SET revenue = r.revenue + EXCLUDED.revenue, updated_at = EXCLUDED.updated_at
"""


def _fold(cursor, params: dict) -> tuple[int, int, list[str]]:
    """Add the range to the totals of every user not at risk: (events, users, at-risk users)."""
    if connection.vendor == "postgresql":
        cursor.execute(_FOLD_POSTGRES, {**params, "min": REVENUE_MIN, "max": REVENUE_MAX})
        size, users, at_risk = cursor.fetchone()
        return int(size), int(users), list(at_risk)
    cursor.execute(_COUNT_SQLITE, {**params, "bound": float(2**62)})
    rows = cursor.fetchall()
    at_risk = sorted(user_id for user_id, _, risky in rows if risky)
    skip, skipped = "", {}
    if at_risk:
        skipped = {f"skip{n}": user_id for n, user_id in enumerate(at_risk)}
        skip = "AND user_id NOT IN (" + ", ".join(f"%({key})s" for key in skipped) + ")"
    cursor.execute(_FOLD_SQLITE.format(skip=skip), {**params, **skipped})
    return sum(n for _, n, _ in rows), len(rows), at_risk


def _fold_one_by_one(*, user_ids: list[str], after: int, upto: int, now) -> int:
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


def _safe_max_id(cursor) -> int:
    """The highest id below which no insert is still in flight (see the module docstring)."""
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {EVENTS}")
    (max_id,) = cursor.fetchone()
    if connection.vendor == "postgresql":
        # Wait for the inserts in flight when MAX(id) was read, then let writers go at once.
        cursor.execute(
            f"SELECT pg_advisory_unlock({WRITER_LOCK}) "
            f"FROM (SELECT pg_advisory_lock({WRITER_LOCK})) AS writers_drained"
        )
    return max_id


def events_process_batch(*, limit: int | None = None) -> ProcessedBatch | None:
    """Fold the next at most ``limit`` pending events into the totals, in one transaction.

    Returns None (and writes nothing) when no event is pending.
    """
    limit = limit or settings.INGESTION_PROCESS_CLAIM
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT pg_advisory_xact_lock({PROCESSOR_LOCK})")
        after = watermark_get()
        upto = _safe_max_id(cursor)
        # The id of the limit-th pending event caps the range (ids have gaps).
        cursor.execute(
            f"SELECT id FROM {EVENTS} WHERE id > %s ORDER BY id LIMIT 1 OFFSET %s",
            [after, limit - 1],
        )
        nth = cursor.fetchone()
        if nth is not None:
            upto = min(upto, nth[0])
        if upto <= after:
            return None
        now = _db_now()
        size, users, at_risk = _fold(cursor, {"after": after, "upto": upto, "now": now})
        out_of_range = 0
        if at_risk:
            out_of_range = _fold_one_by_one(
                user_ids=at_risk, after=after, upto=upto, now=timezone.now()
            )
        _processing_checkpoint(stage="aggregated", after=after, upto=upto)
        # Recorded even when the range holds no event (ids skipped by rollbacks or by
        # duplicates), so the watermark moves past it.
        batch = Batch.objects.create(
            created_at=timezone.now(),
            first_id=after + 1,
            last_id=upto,
            size=size,
            users=users,
            out_of_range=out_of_range,
        )
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

    It holds the processor lock (on PostgreSQL; SQLite's IMMEDIATE transaction already
    excludes other writers), so no processor commits meanwhile: the watermark and the totals
    it reads belong together. Returns the differences it repaired.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_xact_lock({PROCESSOR_LOCK})")
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
