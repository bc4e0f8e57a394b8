"""The ingestion domain's SQL, one named function per statement, each with its why.

Everything here runs on PostgreSQL and SQLite; where they differ the function says how.
Functions that take a ``cursor`` run inside the caller's transaction; the others open their own.

Two advisory locks on PostgreSQL (SQLite's IMMEDIATE transactions already serialise writers),
see docs/decisions/0022-processing-watermark.md:
- ``WRITER_LOCK``: every insert holds it shared for its statement or transaction, taken
  before the sequence hands out ids. A processor takes it exclusively for an instant after
  reading MAX(id) (``core.sql.event_range_claim``, shared with analytics): every id up to that
  MAX then belongs to a finished transaction, so no event can appear later below the
  watermark.
- ``PROCESSOR_LOCK``: processors (and rebuilds) hold it for their transaction, so ranges are
  folded one after the other; a second processor waits, then takes the next range.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from ingestion.models import Batch, Event, UserRevenue

EVENTS = Event._meta.db_table
BATCHES = Batch._meta.db_table
REVENUE = UserRevenue._meta.db_table
WATERMARK_SQL = f"(SELECT COALESCE(MAX(last_id), 0) FROM {BATCHES})"
INSERT_COLUMNS = "user_id, name, value, amount, idempotency_key, credential, received_at"
ON_KEY_CONFLICT = (
    "ON CONFLICT (credential, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
)

# Two arbitrary, fixed advisory lock keys (64-bit), private to this domain.
WRITER_LOCK = 7_324_001_001
PROCESSOR_LOCK = 7_324_001_002

# A total is a BIGINT (docs/decisions/0024-revenue-range.md).
REVENUE_MIN, REVENUE_MAX = -(2**63), 2**63 - 1

# One event as stored, but for credential and received_at: user, name, value, amount, key.
EventRow = tuple[str, str, int, int, str | None]


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def db_now() -> Any:
    """Now, as the database stores a datetime (raw statements bypass the field's adaptation)."""
    return connection.ops.adapt_datetimefield_value(timezone.now())


# --- Accepting ------------------------------------------------------------------------------


def event_insert(*, row: EventRow, credential: str, received_at: Any) -> int | None:
    """Insert one event unless its key is already stored; its new id, or None on a conflict.

    PostgreSQL takes the shared writer lock in an inner query, before the outer one draws the
    id, so the statement is one round trip.
    """
    if _postgres():
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
        cursor.execute(sql, [*row, credential, received_at])
        inserted = cursor.fetchone()
    return None if inserted is None else int(inserted[0])


def event_id_by_key(*, credential: str, key: str | None) -> int | None:
    """The id of the event stored under this credential's idempotency key, if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {EVENTS} WHERE credential = %s AND idempotency_key = %s",
            [credential, key],
        )
        found = cursor.fetchone()
    return None if found is None else int(found[0])


def events_insert_many(*, rows: Sequence[EventRow], credential: str, received_at: Any) -> int:
    """Insert events, each unless its key is already stored; the caller owns the transaction.
    Returns how many were inserted.

    PostgreSQL: the shared writer lock, then one statement with five array parameters whatever
    the batch size (no parameter limit, fast binding). SQLite: multi-row VALUES in chunks that
    stay under its parameter limit.
    """
    with connection.cursor() as cursor:
        if _postgres():
            cursor.execute(f"SELECT pg_advisory_xact_lock_shared({WRITER_LOCK})")
            columns = list(zip(*rows, strict=True))
            cursor.execute(
                f"INSERT INTO {EVENTS} ({INSERT_COLUMNS}) "
                "SELECT u, n, v, a, k, %s, %s FROM unnest("
                "%s::varchar[], %s::varchar[], %s::bigint[], %s::bigint[], %s::varchar[]"
                f") AS t(u, n, v, a, k) {ON_KEY_CONFLICT}",
                [credential, received_at, *(list(column) for column in columns)],
            )
            return int(cursor.rowcount)
        per_row = 7
        chunk = max(1, (connection.features.max_query_params or 999) // per_row)
        inserted = 0
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(part))
            params = [p for row in part for p in (*row, credential, received_at)]
            cursor.execute(
                f"INSERT INTO {EVENTS} ({INSERT_COLUMNS}) VALUES {values} {ON_KEY_CONFLICT}",
                params,
            )
            inserted += cursor.rowcount
        return inserted


# --- Processing -----------------------------------------------------------------------------


def processor_lock(cursor: CursorWrapper) -> None:
    """Processors and rebuilds take turns (held until the transaction ends; PostgreSQL only,
    SQLite's IMMEDIATE transaction already excludes other writers)."""
    if _postgres():
        cursor.execute(f"SELECT pg_advisory_xact_lock({PROCESSOR_LOCK})")


# A user's events of the range are "at risk" when, in some order, they could take the total
# out of the BIGINT range: the range's rises or falls alone, or added to the stored total, pass
# a bound. At-risk users (in practice none) are folded event by event by the caller.
#
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


class Folded(NamedTuple):
    events: int
    users: int
    at_risk: list[str]


def revenue_fold(cursor: CursorWrapper, *, after: int, upto: int, now: Any) -> Folded:
    """Add the events with ids in (after, upto] to the totals of every user not at risk."""
    params = {"after": after, "upto": upto, "now": now}
    if _postgres():
        cursor.execute(_FOLD_POSTGRES, {**params, "min": REVENUE_MIN, "max": REVENUE_MAX})
        size, users, at_risk = cursor.fetchone()
        return Folded(int(size), int(users), list(at_risk))
    cursor.execute(_COUNT_SQLITE, {**params, "bound": float(2**62)})
    rows = cursor.fetchall()
    risky = sorted(user_id for user_id, _, at_risk in rows if at_risk)
    skip, skipped = "", {}
    if risky:
        skipped = {f"skip{n}": user_id for n, user_id in enumerate(risky)}
        skip = "AND user_id NOT IN (" + ", ".join(f"%({key})s" for key in skipped) + ")"
    cursor.execute(_FOLD_SQLITE.format(skip=skip), {**params, **skipped})
    return Folded(sum(n for _, n, _ in rows), len(rows), risky)


# --- Reads ----------------------------------------------------------------------------------
# Every read that mixes the log and the totals computes the watermark in the same statement,
# so it sees one consistent snapshot even while a processor commits.


def event_pending_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {EVENTS} WHERE id > {WATERMARK_SQL}")
        return int(cursor.fetchone()[0])


def user_revenue_row(*, user_id: str) -> tuple[int | None, int]:
    """A user's stored total (None when absent) and pending count, in one round trip: the
    total by primary key, the pending count on the (user_id, id) index."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT revenue FROM {REVENUE} WHERE user_id = %s),"
            f" (SELECT COUNT(*) FROM {EVENTS} WHERE user_id = %s AND id > {WATERMARK_SQL})",
            [user_id, user_id],
        )
        revenue, pending = cursor.fetchone()
    return (None if revenue is None else int(revenue)), int(pending)


def revenue_difference_rows(*, user_ids: list[str] | None) -> list[tuple[str, int, int]]:
    """(user, stored, from the log) of every user (or the given ones) whose stored total differs
    from the sum of their processed events (those left out as out of range excepted)."""
    where_events, where_totals, params = "", "", []
    if user_ids is not None:
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
    return [(user_id, int(stored), int(from_log)) for user_id, stored, from_log in rows]
