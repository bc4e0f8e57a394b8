"""The analytics domain's SQL, one named function per statement, each with its why: the
request path (keys, inserts, the fresh reads) and the user-number helpers the processor shares;
the processor's own statements are in ``analytics.fold``.

Everything here runs on PostgreSQL and SQLite; where they differ the function says how.

Two advisory locks on PostgreSQL (SQLite's IMMEDIATE transactions already serialise writers),
the same scheme as ingestion (docs/decisions/0022-processing-watermark.md):
- ``WRITER_LOCK``: every insert holds it shared, taken before the sequence hands out ids. A
  processor takes it exclusively for an instant after reading MAX(id) (``core.sql.
  event_range_claim``, shared with ingestion), so every id up to that MAX belongs to a finished
  transaction and no event can appear later below the watermark.
- ``PROCESSOR_LOCK``: processors and rebuilds hold it for their transaction, one after another.
"""

import array
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection, transaction
from pyroaring import BitMap

from analytics.copy_rows import INSERT_COLUMNS, PlainRows, copy_text, event_texts
from analytics.models import (
    ApiKey,
    App,
    Batch,
    DailyCount,
    DailyUserSet,
    Event,
    UserKey,
    UserStat,
)

EVENTS = Event._meta.db_table
BATCHES = Batch._meta.db_table
COUNTS = DailyCount._meta.db_table
USER_SETS = DailyUserSet._meta.db_table
USER_KEYS = UserKey._meta.db_table
STATS = UserStat._meta.db_table
APPS = App._meta.db_table
KEYS = ApiKey._meta.db_table
WATERMARK_SQL = f"(SELECT COALESCE(MAX(last_id), 0) FROM {BATCHES})"

WRITER_LOCK = 7_324_005_001
PROCESSOR_LOCK = 7_324_005_002


def postgres() -> bool:
    return connection.vendor == "postgresql"


def app_id_param(app_id) -> object:
    """A UUID as the database stores it (PostgreSQL uuid; SQLite 32 hex characters)."""
    return App._meta.pk.get_db_prep_value(app_id, connection)


_KEY_SQL = (
    f"SELECT k.id, k.app_id, a.owner_id, k.hashed_key FROM {KEYS} AS k "
    f"JOIN {APPS} AS a ON a.id = k.app_id WHERE k.prefix = %s"
)


def api_key_row(prefix: str) -> tuple | None:
    """(id, app id, owner id, hash) of the key with this prefix (unique), or None: what never
    changes for a key (``analytics.admission`` keeps it; liveness is read per request there).
    Plain SQL: building the ORM query cost more than running it."""
    with connection.cursor() as cursor:
        cursor.execute(_KEY_SQL, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    key_id, app_id, owner_id, hashed = row
    if not postgres():  # SQLite returns the uuid as text: convert as the ORM would
        app_id = App._meta.pk.to_python(app_id)
    return (key_id, app_id, owner_id, hashed)


def event_row(e: Any, adapt_datetime) -> tuple:
    """An event's columns after ``app_id``, up to ``day`` (``INSERT_COLUMNS``)."""
    return (*event_texts(e), adapt_datetime(e.timestamp), e.timestamp.date())


def events_insert(*, app_id, events: Sequence | PlainRows, received_at) -> int:
    """Insert clean events of one app; the caller owns the transaction. Returns the count.

    PostgreSQL: one event is one INSERT that takes the shared writer lock itself; more are
    one COPY after the lock (``PlainRows`` are PostgreSQL's only). SQLite: multi-row VALUES in
    chunks.
    """
    app = app_id_param(app_id)
    adapt_datetime = connection.ops.adapt_datetimefield_value
    received = adapt_datetime(received_at)
    with connection.cursor() as cursor:
        if postgres():
            return _events_insert_postgres(cursor, app, events, received)
        if isinstance(events, PlainRows):
            raise TypeError("rows in COPY's text format are for PostgreSQL only")
        rows = [event_row(e, adapt_datetime) for e in events]
        per_row = 14
        chunk = max(1, (connection.features.max_query_params or 999) // per_row)
        inserted = 0
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            values = ", ".join(["(" + ", ".join(["%s"] * per_row) + ")"] * len(part))
            params = [p for row in part for p in (app, *row, received)]
            cursor.execute(f"INSERT INTO {EVENTS} ({INSERT_COLUMNS}) VALUES {values}", params)
            inserted += cursor.rowcount
        return inserted


def _events_insert_postgres(cursor, app, events: Sequence | PlainRows, received) -> int:
    if isinstance(events, Sequence) and len(events) == 1:
        # The lock is taken in the inner query, before the outer one draws the id.
        cursor.execute(
            f"INSERT INTO {EVENTS} ({INSERT_COLUMNS}) SELECT %s, %s, %s, %s, %s, "
            "%s::inet, %s, %s, %s, %s, %s::jsonb, %s, %s, %s "
            f"FROM (SELECT pg_advisory_xact_lock_shared({WRITER_LOCK})) AS writer_lock",
            [app, *event_row(events[0], connection.ops.adapt_datetimefield_value), received],
        )
        return 1
    cursor.execute(f"SELECT pg_advisory_xact_lock_shared({WRITER_LOCK})")
    # COPY in its text format, written here: psycopg's write_row adapts value by value (3.5 ms
    # of CPU for 1,000 events, against 1.2 ms for this text; decision 0068).
    copying = cursor.cursor  # psycopg's own cursor under Django's wrapper
    with copying.copy(f"COPY {EVENTS} ({INSERT_COLUMNS}) FROM STDIN") as copy:
        copy.write(copy_text(events, app=str(app), received=received.isoformat()))
    return copying.rowcount


def numbers_agg(column: str) -> str:
    """An aggregate of user numbers that ``user_numbers`` reads (NULLs are left out)."""
    return f"string_agg(int4send({column}), ''::bytea)" if postgres() else f"group_concat({column})"


def user_numbers(value: bytes | memoryview | str) -> BitMap:
    """The bitmap of user numbers aggregated by ``numbers_agg``."""
    if isinstance(value, str):
        return BitMap(int(number) for number in value.split(","))
    numbers = array.array("I")
    numbers.frombytes(bytes(value))
    if sys.byteorder == "little":
        numbers.byteswap()
    return BitMap(numbers)


def event_pending_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {EVENTS} WHERE id > {WATERMARK_SQL}")
        return int(cursor.fetchone()[0])


def _apps_sql(*, owner_id: int, app_id) -> tuple[str, list]:
    if app_id is None:
        return f"(SELECT id FROM {APPS} WHERE owner_id = %s)", [owner_id]
    return f"(SELECT id FROM {APPS} WHERE owner_id = %s AND id = %s)", [
        owner_id,
        app_id_param(app_id),
    ]


def _days_sql(start: date | None, end: date | None) -> tuple[str, list]:
    clauses, params = [], []
    if start is not None:
        clauses.append("day >= %s")
        params.append(start)
    if end is not None:
        clauses.append("day <= %s")
        params.append(end)
    return "".join(f" AND {clause}" for clause in clauses), params


@dataclass(frozen=True)
class _Snapshot:
    watermark: str  # SQL: a literal, or the subquery
    apps: str  # SQL that an app_id is tested with: "IN (subquery)" or "= ANY(%s)"
    app_params: list


@contextmanager
def _read_snapshot(cursor, *, owner_id: int, app_id) -> Iterator[_Snapshot]:
    """Yield the watermark and the owner's apps as SQL for a read that must see one snapshot.

    PostgreSQL: the watermark and the owner's app ids are read first, in a REPEATABLE READ
    read-only transaction, and passed to the next statement as literals: the planner then
    sees how few ids lie above the watermark and scans the pending events by primary key
    (with a subquery it must guess, and over millions of events it guesses a full scan), and
    tests each pending event's app against an array instead of joining the apps for each
    (4 of the 9 ms of a one-day summary with 2,000 pending events). Both statements see the
    same snapshot. Inside an enclosing transaction the isolation level cannot change; the
    enclosing one is used. SQLite: one statement with both as subqueries (one statement, one
    state).
    """
    apps, app_params = _apps_sql(owner_id=owner_id, app_id=app_id)
    if connection.vendor != "postgresql":
        yield _Snapshot(WATERMARK_SQL, f"IN {apps}", app_params)
        return
    first = f"SELECT {WATERMARK_SQL}, ARRAY{apps}"
    if connection.in_atomic_block:
        cursor.execute(first, app_params)
        watermark, app_ids = cursor.fetchone()
        yield _Snapshot(str(int(watermark)), "= ANY(%s)", [app_ids])
        return
    with transaction.atomic():
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute(first, app_params)
        watermark, app_ids = cursor.fetchone()
        yield _Snapshot(str(int(watermark)), "= ANY(%s)", [app_ids])


def event_summary_rows(
    *, owner_id: int, app_id, event: str, start: date | None, end: date | None
) -> tuple[list[tuple[str, int]], int]:
    """((device, count) rows, unique users): the rollups merged with the pending events.

    One statement over one snapshot (``_read_snapshot``), so an event is counted once whether
    or not a processor commits meanwhile. Its rows are tagged: 0, the counts per device (the
    daily counts plus the pending events); 1, each day's bitmap of users in the range; 2, one
    row: the numbers of the distinct user keys among the pending events that the dictionary
    has, and how many it has not. Unique users are the size of the union of the bitmaps and
    those numbers, plus the keys without a number: such a key was never folded, so no bitmap
    holds it.
    """
    days, day_params = _days_sql(start, end)
    with (
        connection.cursor() as cursor,
        _read_snapshot(cursor, owner_id=owner_id, app_id=app_id) as snapshot,
    ):
        where = f"event = %s AND app_id {snapshot.apps}{days}"
        where_params = [event, *snapshot.app_params, *day_params]
        sql = f"""
        WITH pending AS (
            SELECT device, user_key FROM {EVENTS}
            WHERE id > {snapshot.watermark} AND {where}
        )
        SELECT 0, device, SUM(n), NULL FROM (
            SELECT device, count AS n FROM {COUNTS} WHERE {where}
            UNION ALL SELECT device, 1 FROM pending
        ) AS t GROUP BY device
        UNION ALL SELECT 1, NULL, NULL, users FROM {USER_SETS} WHERE {where}
        UNION ALL SELECT 2, NULL, SUM(CASE WHEN k.id IS NULL THEN 1 ELSE 0 END),
            {numbers_agg("k.id")}
            FROM (SELECT DISTINCT user_key FROM pending) AS p
            LEFT JOIN {USER_KEYS} AS k ON k.key = p.user_key
        """
        cursor.execute(sql, [*where_params, *where_params, *where_params])
        rows = cursor.fetchall()
    devices: list[tuple[str, int]] = []
    users = BitMap()
    unnumbered = 0
    for tag, device, number, blob in rows:
        if tag == 0:
            devices.append((device, int(number)))
        elif tag == 1:
            users |= BitMap.deserialize(bytes(blob))
        else:
            unnumbered = int(number or 0)
            if blob is not None:
                users |= user_numbers(blob)
    return devices, len(users) + unnumbered


def user_stats_row(*, owner_id: int, app_id, user_id: str) -> tuple | None:
    """(total, browser, os, ip) of one userId over the owner's apps, rollups plus pending.

    One statement over one snapshot (``_read_snapshot``, as the event summary), so an event is
    counted once whether or not a processor commits meanwhile; the device details are those of
    the latest event by (timestamp, id) among the rollups' latest and the pending events. The
    pending events are scanned by id above the watermark, with no index by user: such an index
    cost a third of the batch collect's throughput (decision 0068). None: never seen.
    """
    ip = "host(ip_address)" if postgres() else "ip_address"
    with (
        connection.cursor() as cursor,
        _read_snapshot(cursor, owner_id=owner_id, app_id=app_id) as snapshot,
    ):
        where = f"user_id = %s AND app_id {snapshot.apps}"
        sql = f"""
        WITH seen AS (
            SELECT total_events AS n, last_timestamp AS ts, last_event_id AS eid, browser, os,
                {ip} AS ip
            FROM {STATS} WHERE {where}
            UNION ALL
            SELECT 1, timestamp, id, browser, os, {ip} FROM {EVENTS}
            WHERE id > {snapshot.watermark} AND {where}
        )
        SELECT (SELECT SUM(n) FROM seen), browser, os, ip FROM seen ORDER BY ts DESC, eid DESC
        LIMIT 1
        """
        params = [user_id, *snapshot.app_params]
        cursor.execute(sql, [*params, *params])
        return cursor.fetchone()
