"""The analytics domain's SQL, one named function per statement, each with its why.

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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection, transaction
from pyroaring import BitMap

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

INSERT_COLUMNS = (
    "app_id, event, url, referrer, device, ip_address, user_id, user_key, browser, os, "
    "metadata, timestamp, day, received_at"
)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def app_id_param(app_id) -> object:
    """A UUID as the database stores it (PostgreSQL uuid; SQLite 32 hex characters)."""
    return App._meta.pk.get_db_prep_value(app_id, connection)


_KEY_SQL = (
    f"SELECT k.id, k.app_id, a.owner_id, k.hashed_key, k.revoked_at, k.expires_at, "
    f"k.last_used_at FROM {KEYS} AS k JOIN {APPS} AS a ON a.id = k.app_id WHERE k.prefix = %s"
)


def api_key_row(prefix: str) -> tuple | None:
    """(id, app id, owner id, hash, revoked at, expires at, last used at) of the key with this
    prefix (unique), or None. Plain SQL: it runs on every collect, and building the ORM query
    cost more than running it."""
    with connection.cursor() as cursor:
        cursor.execute(_KEY_SQL, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    key_id, app_id, owner_id, hashed, *moments = row
    if not _postgres():  # SQLite returns text: convert as the ORM would
        app_id = App._meta.pk.to_python(app_id)
        convert = connection.ops.convert_datetimefield_value  # type: ignore[attr-defined]
        moments = [convert(value, None, connection) for value in moments]
    return (key_id, app_id, owner_id, hashed, *moments)


def _event_row(e: Any, adapt_datetime) -> tuple:
    return (
        *(e.event, e.url, e.referrer, e.device, e.ip_address, e.user_id, e.user_key, e.browser),
        *(e.os, e.metadata_json, adapt_datetime(e.timestamp), e.timestamp.date()),
    )


def events_insert(*, app_id, events: Sequence, received_at) -> int:
    """Insert clean events of one app; the caller owns the transaction. Returns the count.

    PostgreSQL: one event is one INSERT that takes the shared writer lock itself; more are
    one COPY after the lock. SQLite: multi-row VALUES in chunks.
    """
    app = app_id_param(app_id)
    adapt_datetime = connection.ops.adapt_datetimefield_value
    received = adapt_datetime(received_at)
    rows = [_event_row(e, adapt_datetime) for e in events]
    with connection.cursor() as cursor:
        if _postgres():
            return _events_insert_postgres(cursor, app, rows, received)
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


def _events_insert_postgres(cursor, app, rows: list[tuple], received) -> int:
    if len(rows) == 1:
        # The lock is taken in the inner query, before the outer one draws the id.
        cursor.execute(
            f"INSERT INTO {EVENTS} ({INSERT_COLUMNS}) SELECT %s, %s, %s, %s, %s, "
            "%s::inet, %s, %s, %s, %s, %s::jsonb, %s, %s, %s "
            f"FROM (SELECT pg_advisory_xact_lock_shared({WRITER_LOCK})) AS writer_lock",
            [app, *rows[0], received],
        )
        return 1
    cursor.execute(f"SELECT pg_advisory_xact_lock_shared({WRITER_LOCK})")
    # COPY: a 1,000-event batch took 7-9 ms of this process's CPU, against 37-40 ms to bind
    # the same rows as one array per column to an INSERT ... SELECT FROM unnest(...).
    copying = cursor.cursor  # psycopg's own cursor under Django's wrapper
    with copying.copy(f"COPY {EVENTS} ({INSERT_COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((app, *row, received))
    return copying.rowcount


# One processor runs at a time, so it may sort and hash in memory rather than on disk (the
# default 4 MB spilled the fold's sorts of a 200,000-event claim to temporary files).
PROCESSOR_WORK_MEM = "64MB"


def processor_lock(cursor) -> None:
    """Processors and rebuilds take turns (held until the transaction ends); on PostgreSQL the
    transaction also gets ``PROCESSOR_WORK_MEM`` and no JIT: the fold's statements are planned
    as costly over a large claim, and compiling them took 0.6 s of a 1,000,000-event fold
    that runs in about 2 s without it (docs/performance.md)."""
    if _postgres():
        cursor.execute(
            f"SELECT pg_advisory_xact_lock({PROCESSOR_LOCK}), set_config('work_mem', %s, true), "
            "set_config('jit', 'off', true)",
            [PROCESSOR_WORK_MEM],
        )


# The latest event per (app, user) wins by (timestamp, id); a later batch may hold an older
# event (timestamps come from clients), so the upsert compares before replacing.
_NEWER = "(EXCLUDED.last_timestamp, EXCLUDED.last_event_id) > (s.last_timestamp, s.last_event_id)"
_STATS_UPSERT = f"""
ON CONFLICT (user_id, app_id) DO UPDATE SET
    total_events = s.total_events + EXCLUDED.total_events,
    browser = CASE WHEN {_NEWER} THEN EXCLUDED.browser ELSE s.browser END,
    os = CASE WHEN {_NEWER} THEN EXCLUDED.os ELSE s.os END,
    ip_address = CASE WHEN {_NEWER} THEN EXCLUDED.ip_address ELSE s.ip_address END,
    last_event_id = CASE WHEN {_NEWER} THEN EXCLUDED.last_event_id ELSE s.last_event_id END,
    last_timestamp = CASE WHEN {_NEWER} THEN EXCLUDED.last_timestamp ELSE s.last_timestamp END
"""
_RANGE = "id > %(after)s AND id <= %(upto)s"
_FOLD_COLUMNS = (
    "id, app_id, event, day, device, user_key, user_id, timestamp, browser, os, ip_address"
)
_COUNTS_UPSERT = (
    "ON CONFLICT (event, app_id, day, device) DO UPDATE SET count = c.count + EXCLUDED.count"
)
# Every user key of the range gets its number in the dictionary (an existing key keeps its own).
_KEYS_FOLD = f"""
INSERT INTO {USER_KEYS} (key) SELECT DISTINCT user_key FROM {{src}} WHERE true
ON CONFLICT (key) DO NOTHING
"""
# The latest event of each user found by a hash aggregate (the largest [microseconds, id]
# pair) and read back by primary key (OFFSET 0 keeps the lookups from being planned as a
# hash join over the whole claim, which measured slower): sorting the claim by user, twice
# (the window count, then DISTINCT ON), cost about twice as much.
_STATS_FOLD_POSTGRES = f"""
INSERT INTO {STATS} AS s
    (app_id, user_id, total_events, last_timestamp, last_event_id, browser, os, ip_address)
SELECT l.app_id, l.user_id, l.n, e.timestamp, e.id, e.browser, e.os, e.ip_address
FROM (
    SELECT app_id, user_id, COUNT(*) AS n,
        MAX(ARRAY[(EXTRACT(EPOCH FROM timestamp) * 1000000)::bigint, id]) AS latest
    FROM {{src}} WHERE user_id IS NOT NULL GROUP BY app_id, user_id
) AS l CROSS JOIN LATERAL (
    SELECT timestamp, id, browser, os, ip_address FROM {EVENTS} WHERE id = l.latest[2] OFFSET 0
) AS e
{_STATS_UPSERT}
"""
_STATS_FOLD_SQLITE = f"""
INSERT INTO {STATS} AS s
    (app_id, user_id, total_events, last_timestamp, last_event_id, browser, os, ip_address)
SELECT app_id, user_id, n, timestamp, id, browser, os, ip_address FROM (
    SELECT app_id, user_id, timestamp, id, browser, os, ip_address,
        COUNT(*) OVER (PARTITION BY app_id, user_id) AS n,
        ROW_NUMBER() OVER (
            PARTITION BY app_id, user_id ORDER BY timestamp DESC, id DESC
        ) AS rank
    FROM {{src}} WHERE user_id IS NOT NULL
) AS latest WHERE rank = 1
{_STATS_UPSERT}
"""


def rollups_fold(cursor, *, after: int, upto: int) -> int:
    """Add the events with ids in (after, upto] to the rollups; returns their count.

    The range's user keys are numbered first (``_KEYS_FOLD``). One aggregate over the range
    then gives each (app, event, day, device) its events and its users' numbers
    (``_groups_sql``): the daily counts are upserted from it, and the numbers are added to
    the day's bitmap (``_user_sets_merge``). The per-user statistics are a second aggregate.
    PostgreSQL runs both aggregates and both upserts as one statement (data-modifying CTEs;
    the groups, a few rows per app, event and day, are materialised); SQLite runs them one
    after the other, under its IMMEDIATE write lock.
    """
    params = {"after": after, "upto": upto}
    src = f"(SELECT {_FOLD_COLUMNS} FROM {EVENTS} WHERE {_RANGE}) AS src"
    cursor.execute(_KEYS_FOLD.format(src=src), params)
    counts_insert = f"INSERT INTO {COUNTS} AS c (app_id, event, day, device, count)"
    if _postgres():
        cursor.execute(
            f"WITH g AS MATERIALIZED (SELECT {_groups_sql(src)}), "
            f"counts AS ({counts_insert} SELECT app_id, event, day, device, n FROM g "
            f"{_COUNTS_UPSERT} RETURNING 1), "
            f"stats AS ({_STATS_FOLD_POSTGRES.format(src=src)} RETURNING 1) "
            "SELECT app_id, event, day, device, n, numbers FROM g",
            params,
        )
        groups = cursor.fetchall()
    else:
        cursor.execute(f"SELECT {_groups_sql(src)}", params)
        groups = cursor.fetchall()
        cursor.executemany(
            f"{counts_insert} VALUES (%s, %s, %s, %s, %s) {_COUNTS_UPSERT}",
            [group[:5] for group in groups],
        )
        cursor.execute(_STATS_FOLD_SQLITE.format(src=src), params)
    _user_sets_merge(cursor, _day_users(groups))
    # Every event of the range has its key numbered, so the groups hold every event.
    return sum(int(n) for *_, n, _ in groups)


def _numbers_agg(column: str) -> str:
    """An aggregate of user numbers that ``user_numbers`` reads (NULLs are left out)."""
    return (
        f"string_agg(int4send({column}), ''::bytea)" if _postgres() else f"group_concat({column})"
    )


def _day_users(groups: Iterable[tuple]) -> dict[tuple, BitMap]:
    """The users of each (app, event, day) from ``_groups_sql``'s rows (one per device)."""
    days: dict[tuple, BitMap] = {}
    for app, event, day, _device, _n, numbers in groups:
        users = user_numbers(numbers)
        day_users = days.setdefault((app, event, day), users)
        if day_users is not users:
            day_users |= users
    return days


def _groups_sql(src: str) -> str:
    """Each (app, event, day, device) of ``src`` with its number of events and its users'
    numbers (every key of a folded range is numbered). The numbers: on PostgreSQL one bytea of
    4-byte big-endian integers (int4send), which arrives as bytes without per-number parsing;
    on SQLite comma-separated text. ``user_numbers`` reads either."""
    columns = "src.app_id, src.event, src.day, src.device"
    return (
        f"{columns.replace('src.', '')}, n, numbers FROM (SELECT {columns}, COUNT(*) AS n, "
        f"{_numbers_agg('k.id')} AS numbers FROM {src} "
        f"JOIN {USER_KEYS} AS k ON k.key = src.user_key GROUP BY {columns}) AS grouped"
    )


def user_numbers(value: bytes | memoryview | str) -> BitMap:
    """The bitmap of user numbers aggregated by ``_numbers_agg``."""
    if isinstance(value, str):
        return BitMap(int(number) for number in value.split(","))
    numbers = array.array("I")
    numbers.frombytes(bytes(value))
    if sys.byteorder == "little":
        numbers.byteswap()
    return BitMap(numbers)


def user_set_bytes(users: BitMap) -> bytes:
    users.run_optimize()
    return users.serialize()


_EVENTS_PER_READ = 500


def _user_sets_merge(cursor, groups: dict[tuple, BitMap]) -> None:
    """Add each group's user numbers to its stored bitmap (read, union, write back: processors
    take turns under the processor lock, so nothing else writes these rows meanwhile)."""
    if not groups:
        return
    apps = sorted({app for app, _, _ in groups}, key=str)
    events = sorted({event for _, event, _ in groups})
    days = [day for _, _, day in groups]
    stored: dict[tuple, Any] = {}
    # In parts, so a claim with many event names stays under SQLite's parameter limit.
    for start in range(0, len(events), _EVENTS_PER_READ):
        part = events[start : start + _EVENTS_PER_READ]
        cursor.execute(
            f"SELECT app_id, event, day, users FROM {USER_SETS} WHERE "
            f"app_id IN ({', '.join(['%s'] * len(apps))}) AND "
            f"event IN ({', '.join(['%s'] * len(part))}) AND day >= %s AND day <= %s",
            [*apps, *part, min(days), max(days)],
        )
        stored.update(((a, e, d), users) for a, e, d, users in cursor.fetchall())
    rows = []
    for group, users in groups.items():
        if group in stored:
            users |= BitMap.deserialize(bytes(stored[group]))
        rows.append((*group, user_set_bytes(users), len(users)))
    cursor.executemany(
        f"INSERT INTO {USER_SETS} (app_id, event, day, users, user_count) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event, app_id, day) DO UPDATE SET "
        "users = EXCLUDED.users, user_count = EXCLUDED.user_count",
        rows,
    )


def event_pending_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {EVENTS} WHERE id > {WATERMARK_SQL}")
        return int(cursor.fetchone()[0])


def rollups_clear(cursor) -> None:
    for table in (COUNTS, USER_SETS, STATS):
        cursor.execute(f"DELETE FROM {table}")


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
            {_numbers_agg("k.id")}
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

    One statement (one snapshot, as above); the device details are those of the latest event
    by (timestamp, id) among the rollups' latest and the pending events. None: never seen.
    """
    apps, app_params = _apps_sql(owner_id=owner_id, app_id=app_id)
    ip = "host(ip_address)" if _postgres() else "ip_address"
    sql = f"""
    WITH seen AS (
        SELECT total_events AS n, last_timestamp AS ts, last_event_id AS eid, browser, os,
            {ip} AS ip
        FROM {STATS} WHERE user_id = %s AND app_id IN {apps}
        UNION ALL
        SELECT 1, timestamp, id, browser, os, {ip} FROM {EVENTS}
        WHERE user_id = %s AND id > {WATERMARK_SQL} AND app_id IN {apps}
    )
    SELECT (SELECT SUM(n) FROM seen), browser, os, ip FROM seen ORDER BY ts DESC, eid DESC
    LIMIT 1
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, *app_params, user_id, *app_params])
        return cursor.fetchone()


def rollup_differences_rows(cursor) -> list[tuple[str, str]]:
    """Rollup rows that differ from a fold of the processed log: (table, description).

    The daily counts and the per-user statistics are recomputed from the events at or below
    the watermark and compared with the stored ones both ways with EXCEPT (at most 100 rows
    each way); the daily user sets by ``_user_set_differences``."""
    differences: list[tuple[str, str]] = []
    checks = (
        (COUNTS, "app_id, event, day, device, count",
         f"SELECT app_id, event, day, device, COUNT(*) FROM {EVENTS} "
         f"WHERE id <= {WATERMARK_SQL} GROUP BY app_id, event, day, device"),
        (STATS, "app_id, user_id, total_events, last_event_id",
         f"SELECT app_id, user_id, n, id FROM (SELECT app_id, user_id, id, "
         "COUNT(*) OVER (PARTITION BY app_id, user_id) AS n, ROW_NUMBER() OVER ("
         "PARTITION BY app_id, user_id ORDER BY timestamp DESC, id DESC) AS rank "
         f"FROM {EVENTS} WHERE user_id IS NOT NULL AND id <= {WATERMARK_SQL}) AS t "
         "WHERE rank = 1"),
    )  # fmt: skip
    for table, columns, expected in checks:
        for label, left, right in (
            ("missing or wrong", expected, f"SELECT {columns} FROM {table}"),
            ("unexpected", f"SELECT {columns} FROM {table}", expected),
        ):
            cursor.execute(f"SELECT * FROM ({left} EXCEPT {right}) AS d LIMIT 100")
            differences += [(table, f"{label}: {row}") for row in cursor.fetchall()]
    differences += _user_set_differences(cursor)
    return differences


def _user_set_differences(cursor, limit: int = 100) -> Iterable[tuple[str, str]]:
    """The daily user sets that differ from the processed log's distinct users per (app,
    event, day), each way (at most ``limit`` each), and the log's user keys the dictionary
    lacks. A stored set is also wrong when its ``user_count`` is not its size."""
    cursor.execute(
        f"SELECT DISTINCT user_key FROM {EVENTS} AS e WHERE id <= {WATERMARK_SQL} AND "
        f"NOT EXISTS (SELECT 1 FROM {USER_KEYS} AS k WHERE k.key = e.user_key) LIMIT %s",
        [limit],
    )
    for (key,) in cursor.fetchall():
        yield USER_KEYS, f"missing: {key!r}"
    src = (
        f"(SELECT app_id, event, day, device, user_key FROM {EVENTS} "
        f"WHERE id <= {WATERMARK_SQL}) AS src"
    )
    cursor.execute(f"SELECT {_groups_sql(src)}")
    expected = _day_users(cursor.fetchall())
    cursor.execute(f"SELECT app_id, event, day, users, user_count FROM {USER_SETS}")
    stored = {
        (app, event, day): (BitMap.deserialize(bytes(users)), count)
        for app, event, day, users, count in cursor.fetchall()
    }
    wrong = unexpected = 0
    for group, users in expected.items():
        found = stored.get(group)
        if (found is None or found != (users, len(users))) and wrong < limit:
            wrong += 1
            have = "none" if found is None else f"{found[1]} (a set of {len(found[0])})"
            yield USER_SETS, f"missing or wrong: {group}: {len(users)} users, stored {have}"
    for group, (_users, count) in stored.items():
        if group not in expected and unexpected < limit:
            unexpected += 1
            yield USER_SETS, f"unexpected: {group}: {count} users"
