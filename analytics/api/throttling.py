"""Rate limits of the analytics API (core.api.throttling: atomic across web processes)."""

from core.api.throttling import FixedWindowThrottle


class CollectThrottle(FixedWindowThrottle):
    """Collect requests per API key per minute (ANALYTICS_COLLECT_RATE)."""

    scope = "analytics.collect"
    rate_setting = "ANALYTICS_COLLECT_RATE"

    def get_key(self, request, view) -> str | None:
        return str(request.auth.key_id) if request.auth is not None else None


class ReadThrottle(FixedWindowThrottle):
    """Owner read requests per owner per minute (ANALYTICS_READ_RATE)."""

    scope = "analytics.read"
    rate_setting = "ANALYTICS_READ_RATE"

    def get_key(self, request, view) -> str | None:
        user = request.user
        return str(user.pk) if user is not None and user.is_authenticated else None
