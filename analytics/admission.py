"""Admitting a collect request: the key's secret, the key still live, the per-key rate limit,
then the events stored (docs/decisions/0067-collect-admission.md).

- **The secret** is checked in this process, with no round trip: a key's id, app and SHA-256
  never change once issued, so each web process remembers them by prefix after the first read
  (at most ``KNOWN_KEYS_MAX`` keys). The secret is compared with the hash in constant time.
- **Liveness** (not revoked, not expired) is read from the database on every request, so a
  revoked key is refused on the very next request, on every web process. The same step writes
  the key's ``last_used_at`` when it is older than a minute.
- **The limit** counts the request in the window's counter (``core.ratelimit``: atomic across
  processes), and only for a live key.
- **The insert** happens only for a live key within its limit.

On PostgreSQL with the counters in the database (no ``REDIS_URL``), one event is admitted in
one statement: the three steps are data-modifying parts of one ``WITH``, one round trip and one
transaction. A batch is admitted by the same statement without the insert, then stored by
``events_collect`` (the ``COPY``). Elsewhere (SQLite, or the counters in Redis) the steps run
one after another, in the same order.

The outcome says which gate refused, in the order the API answers: 401 (not live) before 429
(over the limit) before the body's own 400.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from analytics import sql
from analytics.models import ApiKey
from analytics.services import (
    LAST_USED_RESOLUTION_SECONDS,
    KeyIdentity,
    events_collect,
    key_matches,
    key_prefix,
)
from analytics.validation import CleanEvent
from core.ratelimit import (
    RateLimitDecision,
    RateWindow,
    ratelimit_counter_key,
    ratelimit_hit,
    ratelimit_window,
)
from core.sql import COUNTER_INSERT, COUNTER_ON_CONFLICT

COLLECT_SCOPE = "analytics.collect"  # the counters' names: "analytics.collect:<key id>"
KNOWN_KEYS_MAX = 4_096
_NO_SUCH_HASH = "0" * 64

# prefix -> (the key, its SHA-256). Only what never changes for a key id is kept here.
_known: dict[str, tuple[KeyIdentity, str]] = {}


def api_key_verify(*, raw: str) -> KeyIdentity | None:
    """The key whose secret ``raw`` is, or None. Says nothing of whether it is still live:
    ``collect_admit`` reads that on every request."""
    prefix = key_prefix(raw)
    if prefix is None:
        return None
    known = _known.get(prefix)
    if known is None:
        row = sql.api_key_row(prefix)
        if row is None:
            key_matches(raw, _NO_SUCH_HASH)  # same work whether or not the prefix exists
            return None
        key_id, app_id, owner_id, hashed, *_moments = row
        known = (KeyIdentity(key_id=key_id, app_id=app_id, owner_id=owner_id), hashed)
        if len(_known) >= KNOWN_KEYS_MAX:
            del _known[next(iter(_known))]  # the oldest remembered
        _known[prefix] = known
    identity, hashed = known
    return identity if key_matches(raw, hashed) else None


@dataclass(frozen=True)
class Admission:
    live: bool
    limit: RateLimitDecision | None  # None when not counted: no limit set, or the key not live
    stored: int

    @property
    def allowed(self) -> bool:
        return self.limit is None or self.limit.allowed


def collect_admit(*, identity: KeyIdentity, events: Sequence[CleanEvent]) -> Admission:
    """Check the key is live and count the request, then store ``events`` if both pass.

    ``events`` may be empty: a request whose body was refused is still checked and counted
    first, so that its answer is 401 or 429 where those apply.
    """
    limit = settings.ANALYTICS_COLLECT_RATE
    counter = ratelimit_counter_key(f"{COLLECT_SCOPE}:{identity.key_id}")
    now = timezone.now()
    decision: RateLimitDecision | None
    if connection.vendor == "postgresql" and not settings.REDIS_URL:
        window = ratelimit_window()
        one = events[0] if len(events) == 1 else None
        live, count, stored = _admit_postgres(
            key_id=identity.key_id, event=one, limit=limit, window=window, counter=counter, now=now
        )
        decision = None if count is None else window.decide(count=count, limit=limit)
        if one is not None or not live or (decision is not None and not decision.allowed):
            return Admission(live=live, limit=decision, stored=stored)
    else:
        if not _key_live(key_id=identity.key_id, now=now):
            return Admission(live=False, limit=None, stored=0)
        decision = ratelimit_hit(key=counter, limit=limit) if limit > 0 else None
        if decision is not None and not decision.allowed:
            return Admission(live=True, limit=decision, stored=0)
    stored = events_collect(app_id=identity.app_id, events=events)
    return Admission(live=True, limit=decision, stored=stored)


def _stale(now: datetime) -> datetime:
    return now - timedelta(seconds=LAST_USED_RESOLUTION_SECONDS)


def _key_live(*, key_id: int, now: datetime) -> bool:
    """Whether the key is live; its last use is touched when stale (a second statement, at
    most once a minute)."""
    found = (
        ApiKey.objects.filter(pk=key_id, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("last_used_at")[:1]
    )
    if not found:
        return False
    (last_used_at,) = found[0]
    if last_used_at is None or last_used_at <= _stale(now):
        ApiKey.objects.filter(pk=key_id).update(last_used_at=now)
    return True


# PostgreSQL: the key live (and its last use touched), the request counted, in one statement.
# ``hit`` runs only for a live key and only when a limit is set; the insert reads ``hit``, so
# it sees the new count. The writer lock is taken in the insert's FROM, before the sequence
# draws the event's id (analytics.sql: WRITER_LOCK).
_GATE = (
    f"live AS (SELECT id, app_id FROM {sql.KEYS} WHERE id = %s AND revoked_at IS NULL "
    "AND (expires_at IS NULL OR expires_at > %s)), "
    f"touched AS (UPDATE {sql.KEYS} SET last_used_at = %s WHERE id IN (SELECT id FROM live) "
    "AND (last_used_at IS NULL OR last_used_at <= %s)), "
    f"hit AS ({COUNTER_INSERT} SELECT %s, %s, 1, %s FROM live WHERE %s > 0 "
    f"{COUNTER_ON_CONFLICT})"
)
_GATE_SQL = f"WITH {_GATE} SELECT (SELECT count(*) FROM live), (SELECT count FROM hit), 0"
_GATE_AND_STORE_SQL = (
    f"WITH {_GATE}, stored AS (INSERT INTO {sql.EVENTS} ({sql.INSERT_COLUMNS}) "
    "SELECT live.app_id, %s, %s, %s, %s, %s::inet, %s, %s, %s, %s, %s::jsonb, %s, %s, %s "
    f"FROM live, (SELECT pg_advisory_xact_lock_shared({sql.WRITER_LOCK})) AS writer_lock "
    "WHERE NOT EXISTS (SELECT FROM hit WHERE count > %s) RETURNING 1) "
    "SELECT (SELECT count(*) FROM live), (SELECT count FROM hit), (SELECT count(*) FROM stored)"
)


def _admit_postgres(
    *,
    key_id: int,
    event: CleanEvent | None,
    limit: int,
    window: RateWindow,
    counter: str,
    now: datetime,
) -> tuple[bool, int | None, int]:
    """(live, the request's count or None, events stored): one statement in autocommit."""
    params: list[Any] = [key_id, now, now, _stale(now)]
    params += [counter, window.start, window.expires_at, limit]
    statement = _GATE_SQL
    if event is not None:
        statement = _GATE_AND_STORE_SQL
        params += [*sql.event_row(event, connection.ops.adapt_datetimefield_value), now, limit]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        live, count, stored = cursor.fetchone()
    return bool(live), count, stored
