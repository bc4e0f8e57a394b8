"""Rate limits of the analytics API (core.api.throttling: atomic across web processes).

Collect's per-key limit is counted by its admission (``analytics.admission``), in the
statement that reads the key's liveness."""

from core.api.throttling import FixedWindowThrottle


class ReadThrottle(FixedWindowThrottle):
    """Owner read requests per owner per minute (ANALYTICS_READ_RATE)."""

    scope = "analytics.read"
    rate_setting = "ANALYTICS_READ_RATE"

    def get_key(self, request, view) -> str | None:
        user = request.user
        return str(user.pk) if user is not None and user.is_authenticated else None
