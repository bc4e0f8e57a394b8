"""The processor's SQL: folding a claimed range of the event log into the rollups, and
checking the rollups against the log (``rebuild_rollups --verify``).

Processors and rebuilds take turns under ``PROCESSOR_LOCK`` (analytics.sql), so the
read-modify-write of the day bitmaps needs no other lock. Everything runs on PostgreSQL and
SQLite; where they differ the function says how.
"""

from collections.abc import Iterable
from typing import Any

from pyroaring import BitMap

from analytics.sql import (
    COUNTS,
    EVENTS,
    PROCESSOR_LOCK,
    STATS,
    USER_KEYS,
    USER_SETS,
    WATERMARK_SQL,
    numbers_agg,
    postgres,
    user_numbers,
)

# One processor runs at a time, so it may sort and hash in memory rather than on disk (the
# default 4 MB spilled the fold's sorts of a 200,000-event claim to temporary files).
PROCESSOR_WORK_MEM = "64MB"


def processor_lock(cursor) -> None:
    """Processors and rebuilds take turns (held until the transaction ends); on PostgreSQL the
    transaction also gets ``PROCESSOR_WORK_MEM`` and no JIT: the fold's statements are planned
    as costly over a large claim, and compiling them took 0.6 s of a 1,000,000-event fold
    that runs in about 2 s without it (docs/performance.md)."""
    if postgres():
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
# Only processors and rebuilds write the dictionary, one at a time under the processor lock, so
# the keys already numbered are left out by an anti-join of the range's distinct keys: a
# speculative insert per key (ON CONFLICT DO NOTHING) took 0.44-0.47 s for 50,000 new keys of
# a 1,000,000-event claim against 0.34 s, and 0.29 s against 0.21 s when all were known. A key
# written by anything else meanwhile would stop the fold with a unique violation, not pass.
_KEYS_FOLD = f"""
INSERT INTO {USER_KEYS} (key) SELECT d.key FROM (SELECT DISTINCT user_key AS key FROM {{src}}) AS d
WHERE NOT EXISTS (SELECT 1 FROM {USER_KEYS} AS k WHERE k.key = d.key)
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
    if postgres():
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
        f"{numbers_agg('k.id')} AS numbers FROM {src} "
        f"JOIN {USER_KEYS} AS k ON k.key = src.user_key GROUP BY {columns}) AS grouped"
    )


_EVENTS_PER_READ = 500


def _user_set_bytes(users: BitMap) -> bytes:
    users.run_optimize()
    return users.serialize()


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
        rows.append((*group, _user_set_bytes(users), len(users)))
    cursor.executemany(
        f"INSERT INTO {USER_SETS} (app_id, event, day, users, user_count) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event, app_id, day) DO UPDATE SET "
        "users = EXCLUDED.users, user_count = EXCLUDED.user_count",
        rows,
    )


def rollups_clear(cursor) -> None:
    for table in (COUNTS, USER_SETS, STATS):
        cursor.execute(f"DELETE FROM {table}")


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
