"""Admitting a collect request: the key's secret, the key still live, the per-key rate limit,
then the events stored (docs/decisions/0067-collect-admission.md).

- **The secret** is checked in this process, with no round trip: a key's id, app and SHA-256
  never change once issued, so each web process remembers them by prefix after the first read
  (at most ``KNOWN_KEYS_MAX`` keys). The secret is compared with the hash in constant time.
- **Liveness** (not revoked, not expired) is read from the database on every request, so a
  revoked key is refused on the very next request, on every web process. The same statement
  writes the key's ``last_used_at`` when it is older than a minute.
- **The limit** counts the request in the window's counter (``core.ratelimit``: atomic across
  processes).
- **The insert** happens only for a live key within its limit.

PostgreSQL, counters in the database (no ``REDIS_URL``): a single event is admitted in one
statement with the other single events its process received meanwhile
(``analytics.admission_group``, decision 0074): the key live, the counter raised, the events
stored up to the limit. A batch, or a body refused before storing: one statement reads the key
live and counts the request, then the batch's ``COPY`` (``events_collect``). PostgreSQL with
Redis: the request is counted in Redis first, then one statement reads the key live and stores
one event if the count allowed it.
SQLite: the three steps one after another.

The outcome says which gate refused, in the order the API answers: 401 (not live) before 429
(over the limit) before the body's own 400.
"""

import threading
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
    EVENTS_BATCHER,
    LAST_USED_RESOLUTION_SECONDS,
    Events,
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
_known_lock = threading.Lock()


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
        key_id, app_id, owner_id, hashed = row
        known = (KeyIdentity(key_id=key_id, app_id=app_id, owner_id=owner_id), hashed)
        with _known_lock:  # a web worker may run several threads
            while len(_known) >= KNOWN_KEYS_MAX:
                del _known[next(iter(_known))]  # the oldest remembered
            _known[prefix] = known
    identity, hashed = known
    return identity if key_matches(raw, hashed) else None


@dataclass(frozen=True)
class Admission:
    live: bool
    limit: RateLimitDecision | None  # None when the request was not counted
    stored: int

    @property
    def allowed(self) -> bool:
        return self.limit is None or self.limit.allowed


def collect_admit(*, identity: KeyIdentity, events: Events) -> Admission:
    """Check the key is live and count the request, then store ``events`` if both pass.

    ``events`` may be empty: a request whose body was refused is still checked and counted
    first, so that its answer is 401 or 429 where those apply.
    """
    limit = settings.ANALYTICS_COLLECT_RATE
    counter = ratelimit_counter_key(f"{COLLECT_SCOPE}:{identity.key_id}")
    now = timezone.now()
    if connection.vendor != "postgresql":
        return _admit_in_steps(
            identity=identity, events=events, counter=counter, limit=limit, now=now
        )
    decision: RateLimitDecision | None = None
    one = events[0] if isinstance(events, Sequence) and len(events) == 1 else None
    if one is not None and not settings.REDIS_URL:
        from analytics.admission_group import admit_one  # it builds on this module

        return admit_one(identity=identity, event=one)
    if settings.REDIS_URL:
        # Counted first (a key found dead was counted for nothing, harmlessly), then the key
        # live and the event stored if allowed, in one statement.
        decision = ratelimit_hit(key=counter, limit=limit) if limit > 0 else None
        allowed = decision is None or decision.allowed
        live, _, stored = _admit_postgres(
            key_id=identity.key_id, now=now, event=one if allowed else None
        )
    else:
        # A batch, or a refused body: the request counted in a statement of its own (the
        # counter's row stays locked until its transaction ends), then the batch's COPY.
        window = ratelimit_window()
        live, count, stored = _admit_postgres(
            key_id=identity.key_id, now=now, count=(counter, window, limit)
        )
        if count is not None:
            decision = window.decide(count=count, limit=limit)
    admission = Admission(live=live, limit=decision, stored=stored)
    if stored:
        EVENTS_BATCHER.notify()  # stored by the statement above, as events_collect would
        return admission
    if not admission.live or not admission.allowed or not events:
        return admission
    stored = events_collect(app_id=identity.app_id, events=events)
    return Admission(live=True, limit=decision, stored=stored)


def _admit_in_steps(
    *, identity: KeyIdentity, events: Events, counter: str, limit: int, now: datetime
) -> Admission:
    """SQLite: the key live, then the counter, then the insert, one statement each."""
    if not _key_live(key_id=identity.key_id, now=now):
        return Admission(live=False, limit=None, stored=0)
    decision = ratelimit_hit(key=counter, limit=limit) if limit > 0 else None
    if decision is not None and not decision.allowed:
        return Admission(live=True, limit=decision, stored=0)
    stored = events_collect(app_id=identity.app_id, events=events) if events else 0
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


# PostgreSQL: the key live and its last use touched, then either the request counted in the
# database (``hit``) or the event stored (``stored``), never both: the counter's row lock must
# not wait for the event's flush. The writer lock is taken in the insert's FROM, before the
# sequence draws the event's id (analytics.sql: WRITER_LOCK).
_LIVE = (
    f"live AS (SELECT id, app_id FROM {sql.KEYS} WHERE id = %s AND revoked_at IS NULL "
    "AND (expires_at IS NULL OR expires_at > %s)), "
    f"touched AS (UPDATE {sql.KEYS} SET last_used_at = %s WHERE id IN (SELECT id FROM live) "
    "AND (last_used_at IS NULL OR last_used_at <= %s))"
)
_HIT = (
    f"hit AS ({COUNTER_INSERT} SELECT %s, %s, 1, %s FROM live WHERE %s > 0 {COUNTER_ON_CONFLICT})"
)
_STORED = (
    f"stored AS (INSERT INTO {sql.EVENTS} ({sql.INSERT_COLUMNS}) "
    "SELECT live.app_id, %s, %s, %s, %s, %s::inet, %s, %s, %s, %s, %s::jsonb, %s, %s, %s "
    f"FROM live, (SELECT pg_advisory_xact_lock_shared({sql.WRITER_LOCK})) AS writer_lock "
    "RETURNING 1)"
)
_LIVE_SQL = f"WITH {_LIVE} SELECT (SELECT count(*) FROM live), NULL, 0"
_LIVE_AND_HIT_SQL = (
    f"WITH {_LIVE}, {_HIT} SELECT (SELECT count(*) FROM live), (SELECT count FROM hit), 0"
)
_LIVE_AND_STORED_SQL = (
    f"WITH {_LIVE}, {_STORED} "
    "SELECT (SELECT count(*) FROM live), NULL, (SELECT count(*) FROM stored)"
)


def _admit_postgres(
    *,
    key_id: int,
    now: datetime,
    event: CleanEvent | None = None,
    count: tuple[str, RateWindow, int] | None = None,
) -> tuple[bool, int | None, int]:
    """(live, the request's count or None, events stored), in one statement in autocommit:
    the key live, and ``count`` (counter, window, limit) counted or ``event`` stored."""
    params: list[Any] = [key_id, now, now, _stale(now)]
    statement = _LIVE_SQL
    if count is not None:
        counter, window, limit = count
        statement = _LIVE_AND_HIT_SQL
        params += [counter, window.start, window.expires_at, limit]
    elif event is not None:
        statement = _LIVE_AND_STORED_SQL
        params += [*sql.event_row(event, connection.ops.adapt_datetimefield_value), now]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        live, counted, stored = cursor.fetchone()
    return bool(live), counted, stored
