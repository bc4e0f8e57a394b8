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
from typing import Any, NamedTuple

import orjson
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

GROUP_MAX = 64  # events per statement at most


class Arrival(NamedTuple):
    identity: KeyIdentity
    row: bytes  # the event's columns after app_id, as a JSON array (``arrival``)


def arrival(identity: KeyIdentity, event: CleanEvent, received_at: datetime) -> Arrival:
    """An event ready for a group: serialised by the thread that received it, so that its
    group's runner only joins the rows."""
    adapt = connection.ops.adapt_datetimefield_value
    return Arrival(identity, orjson.dumps((*sql.event_row(event, adapt), adapt(received_at))))


# The group's events as one JSON array of rows (one statement text whatever the group's size,
# prepared once per connection; one parameter, serialised by orjson). ``n`` is an event's
# place in the group, from 1.
_COLUMNS = [column.strip() for column in sql.INSERT_COLUMNS.split(",")][1:]  # after app_id
_CASTS = {"ip_address": "inet", "metadata": "jsonb", "timestamp": "timestamptz", "day": "date",
          "received_at": "timestamptz"}  # fmt: skip
_PICKED = ", ".join(
    f"(v.row ->> {index})::{_CASTS.get(column, 'text')}" for index, column in enumerate(_COLUMNS)
)
_HIT = (
    f"hit AS ({COUNTER_INSERT} SELECT %s, %s, %s, %s FROM live WHERE %s > 0 "
    "ON CONFLICT (key, window_start) DO UPDATE "
    "SET count = core_ratelimitcounter.count + EXCLUDED.count RETURNING count)"
)
# The writer lock is taken in the FROM, before the sequence draws the ids (analytics.sql).
_STORED = (
    f"stored AS (INSERT INTO {sql.EVENTS} ({sql.INSERT_COLUMNS}) "
    f"SELECT live.app_id, {_PICKED} FROM live, "
    f"(SELECT pg_advisory_xact_lock_shared({sql.WRITER_LOCK})) AS writer_lock, "
    "json_array_elements(%s::json) WITH ORDINALITY AS v(row, n) "
    "WHERE %s <= 0 OR v.n <= %s - ((SELECT count FROM hit) - %s) ORDER BY v.n RETURNING 1)"
)
GROUP_STATEMENT = (
    f"WITH {_LIVE}, {_HIT}, {_STORED} SELECT (SELECT count(*) FROM live), "
    "(SELECT count FROM hit), (SELECT count(*) FROM stored)"
)


def admit_group(arrivals: Sequence[Arrival]) -> list[Admission | Exception]:
    """Admit ``arrivals`` (any keys), one statement per key; one outcome per arrival: its
    admission, or the error its key's statement met (the other keys' statements stand)."""
    by_key: dict[int, list[int]] = {}
    for index, arrival in enumerate(arrivals):
        by_key.setdefault(arrival.identity.key_id, []).append(index)
    outcomes: list[Admission | Exception | None] = [None] * len(arrivals)
    limit = settings.ANALYTICS_COLLECT_RATE
    window = ratelimit_window()
    for indexes in by_key.values():
        group = [arrivals[index] for index in indexes]
        try:
            admissions: list[Admission | Exception] = [*_admit_one_key(group, window, limit)]
        except Exception as exc:
            admissions = [exc] * len(group)
        for index, admission in zip(indexes, admissions, strict=True):
            outcomes[index] = admission
    return [outcome for outcome in outcomes if outcome is not None]


def _admit_one_key(group: list[Arrival], window: RateWindow, limit: int) -> list[Admission]:
    size = len(group)
    identity = group[0].identity
    now = timezone.now()
    counter = ratelimit_counter_key(f"{COLLECT_SCOPE}:{identity.key_id}")
    params: list[Any] = [identity.key_id, now, now, _stale(now)]
    params += [counter, window.start, size, window.expires_at, limit]
    params.append((b"[%b]" % b",".join(arrival.row for arrival in group)).decode())
    params += [limit, limit, size]
    with connection.cursor() as cursor:
        cursor.execute(GROUP_STATEMENT, params)
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


_GROUPS: GroupCommit[Arrival, Admission | Exception] = GroupCommit(admit_group, max_items=GROUP_MAX)


def admit_one(*, identity: KeyIdentity, event: CleanEvent) -> Admission:
    """Admit one event in one statement with the ones its process receives meanwhile (alone
    inside a transaction: ``GroupCommit.submit_from_request``). Raises what its statement
    raised."""
    outcome = _GROUPS.submit_from_request(
        arrival(identity, event, timezone.now()), alone=lambda item: admit_group([item])[0]
    )
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
