"""A single collect on PostgreSQL with the counters in the database: admitted in a group
(``core.groupcommit``, docs/decisions/0074-collect-group-commit.md).

The events of one key that a web process receives while its previous group is being stored go
together in one statement, one round trip and one commit: the key read live (and its last use
touched), the window's counter raised by the group's size, and the events stored in arrival
order up to what the limit leaves. The counter's row stays locked until the commit has
flushed, so the groups of one key queue behind each other's flush; a group is every request
that arrived meanwhile, so the queue moves more requests per flush the busier the key.

Each request gets its own outcome: the key live or not; its own count (the counter before
the group plus its place in it) decides 429 with the window's ``Retry-After``; it is stored
if and only if it was allowed.
"""

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.utils import timezone

from analytics import sql
from analytics.admission import _LIVE, COLLECT_SCOPE, Admission, _stale
from analytics.services import EVENTS_BATCHER, KeyIdentity
from analytics.validation import CleanEvent
from core.groupcommit import GroupCommit
from core.ratelimit import RateWindow, ratelimit_counter_key, ratelimit_window
from core.sql import COUNTER_INSERT

GROUP_MAX = 64  # events per statement: bounds the statement's variants (one per size)


class Arrival(NamedTuple):
    identity: KeyIdentity
    event: CleanEvent
    received_at: datetime


# One row per event; ``n`` is its place in the group (from 1).
_ROW = (
    "(%s::integer, %s, %s, %s, %s, %s::inet, %s, %s, %s, %s, %s::jsonb, %s::timestamptz, "
    "%s::date, %s::timestamptz)"
)
_COLUMNS = sql.INSERT_COLUMNS.split(", ", 1)[1]  # after app_id


@cache
def group_statement(size: int) -> str:
    """The statement for a group of ``size`` events of one key."""
    hit = (
        f"hit AS ({COUNTER_INSERT} SELECT %s, %s, %s, %s FROM live WHERE %s > 0 "
        "ON CONFLICT (key, window_start) DO UPDATE "
        "SET count = core_ratelimitcounter.count + EXCLUDED.count RETURNING count)"
    )
    values = ", ".join([_ROW] * size)
    picked = ", ".join(f"v.{column.strip()}" for column in _COLUMNS.split(","))
    # The writer lock is taken in the FROM, before the sequence draws the ids (analytics.sql).
    stored = (
        f"stored AS (INSERT INTO {sql.EVENTS} ({sql.INSERT_COLUMNS}) "
        f"SELECT live.app_id, {picked} FROM live, "
        f"(SELECT pg_advisory_xact_lock_shared({sql.WRITER_LOCK})) AS writer_lock, "
        f"(VALUES {values}) AS v(n, {_COLUMNS}) "
        "WHERE %s <= 0 OR v.n <= %s - ((SELECT count FROM hit) - %s) RETURNING 1)"
    )
    return (
        f"WITH {_LIVE}, {hit}, {stored} SELECT (SELECT count(*) FROM live), "
        "(SELECT count FROM hit), (SELECT count(*) FROM stored)"
    )


def admit_group(arrivals: Sequence[Arrival]) -> list[Admission]:
    """Admit ``arrivals`` (any keys), one statement per key; one outcome per arrival."""
    by_key: dict[int, list[int]] = {}
    for index, arrival in enumerate(arrivals):
        by_key.setdefault(arrival.identity.key_id, []).append(index)
    outcomes: list[Admission | None] = [None] * len(arrivals)
    limit = settings.ANALYTICS_COLLECT_RATE
    window = ratelimit_window()
    for indexes in by_key.values():
        group = [arrivals[index] for index in indexes]
        for index, admission in zip(indexes, _admit_one_key(group, window, limit), strict=True):
            outcomes[index] = admission
    return [outcome for outcome in outcomes if outcome is not None]


def _admit_one_key(group: list[Arrival], window: RateWindow, limit: int) -> list[Admission]:
    size = len(group)
    identity = group[0].identity
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    counter = ratelimit_counter_key(f"{COLLECT_SCOPE}:{identity.key_id}")
    params: list[Any] = [identity.key_id, now, now, _stale(now)]
    params += [counter, window.start, size, window.expires_at, limit]
    for place, arrival in enumerate(group, start=1):
        params += [place, *sql.event_row(arrival.event, adapt), adapt(arrival.received_at)]
    params += [limit, limit, size]
    with connection.cursor() as cursor:
        cursor.execute(group_statement(size), params)
        live, count, stored = cursor.fetchone()
    if stored:
        EVENTS_BATCHER.notify()
    if not live:
        return [Admission(live=False, limit=None, stored=0)] * size
    if count is None:  # no limit: nothing counted, everything stored
        return [Admission(live=True, limit=None, stored=1)] * size
    before = count - size
    decisions = [window.decide(count=before + place, limit=limit) for place in range(1, size + 1)]
    return [Admission(live=True, limit=d, stored=int(d.allowed)) for d in decisions]


_GROUPS: GroupCommit[Arrival, Admission] = GroupCommit(admit_group, max_items=GROUP_MAX)


def admit_one(*, identity: KeyIdentity, event: CleanEvent) -> Admission:
    """Admit one event in the process's next group; alone, on this thread's connection, when
    the thread already holds one.

    - Inside a transaction the write must be the caller's own, not another thread's.
    - A thread that waits in a group holds no connection: the group's runner takes one from
      the pool, and the pool never waits for a connection that a waiting thread holds. (A
      request on the fast path holds none until its statement; the request's end gives back
      the one its runner took.)
    """
    arrival = Arrival(identity=identity, event=event, received_at=timezone.now())
    if connection.in_atomic_block or connection.connection is not None:
        return admit_group([arrival])[0]
    return _GROUPS.submit(arrival)
