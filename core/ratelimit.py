"""Fixed-window rate limiting that holds across every web process.

``ratelimit_hit(key=..., limit=..., window_seconds=...)`` counts one request for ``key`` in the
current window and says whether it is allowed and, if not, how long until the window ends. The
count is one atomic operation in the shared store, so two web processes (or hosts) never both
let the ``limit + 1``-th request through:

- with ``REDIS_URL``: ``INCR`` plus ``EXPIRE`` in one pipeline (Django's cache ``incr`` is a
  read-then-write on some backends, so the Redis client is used directly);
- without it: one ``INSERT ... ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count`` on
  ``core.RateLimitCounter`` (``core.sql``: PostgreSQL and SQLite both run it atomically;
  Django's database cache ``incr`` is not atomic). The ``core.prune_rate_limits`` schedule
  deletes old windows.

A fixed window lets a client send up to twice the limit across a window boundary; for limits
meant to stop floods (not to bill), that is the accepted price of one write per request
(decision 0060). Views use it through ``core.api.throttling.FixedWindowThrottle``.
"""

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings

from core import sql

if TYPE_CHECKING:
    import redis

KEY_MAX_CHARS = 255


@dataclass(frozen=True)
class RateLimitDecision:
    allowed: bool
    count: int
    limit: int
    retry_after_seconds: int


@dataclass(frozen=True)
class RateWindow:
    """The fixed window a request falls in: where it starts, when its database counter may be
    pruned, and how long a refused client should wait."""

    start: int
    expires_at: datetime
    retry_after_seconds: int

    def decide(self, *, count: int, limit: int) -> RateLimitDecision:
        return RateLimitDecision(
            allowed=count <= limit,
            count=count,
            limit=limit,
            retry_after_seconds=self.retry_after_seconds,
        )


def ratelimit_window(*, window_seconds: int = 60, now: float | None = None) -> RateWindow:
    now = time.time() if now is None else now
    start = int(now // window_seconds) * window_seconds
    return RateWindow(
        start=start,
        expires_at=datetime.fromtimestamp(start + window_seconds * 2, tz=UTC),
        retry_after_seconds=max(1, math.ceil(start + window_seconds - now)),
    )


def ratelimit_counter_key(key: str) -> str:
    """The counter's name as stored (bounded by the column's length)."""
    return key[:KEY_MAX_CHARS]


def ratelimit_hit(
    *, key: str, limit: int, window_seconds: int = 60, now: float | None = None
) -> RateLimitDecision:
    """Count one request for ``key``; refuse it once more than ``limit`` fell in this window."""
    window = ratelimit_window(window_seconds=window_seconds, now=now)
    key = ratelimit_counter_key(key)
    if settings.REDIS_URL:
        count = _redis_increment(key, window.start, window_seconds)
    else:
        count = sql.ratelimit_counter_increment(
            key=key, window_start=window.start, expires_at=window.expires_at
        )
    return window.decide(count=count, limit=limit)


@cache
def _redis_client() -> "redis.Redis":
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


def _redis_increment(key: str, window: int, window_seconds: int) -> int:
    redis_key = f"ratelimit:{key}:{window}"
    pipe = _redis_client().pipeline(transaction=True)
    pipe.incr(redis_key)
    pipe.expire(redis_key, window_seconds * 2)
    count, _ = pipe.execute()
    return int(count)


def ratelimit_prune(*, now: datetime | None = None) -> int:
    """Delete the database counters of windows that have ended (the schedule calls this)."""
    from core.models import RateLimitCounter

    now = now or datetime.now(tz=UTC)
    deleted, _ = RateLimitCounter.objects.filter(expires_at__lt=now).delete()
    return deleted
