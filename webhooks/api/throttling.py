"""Rate limit of the open collection endpoints (core.api.throttling: atomic across processes)."""

from core.api.throttling import FixedWindowThrottle


class SubmitThrottle(FixedWindowThrottle):
    """Collection requests per client address per minute (WEBHOOKS_SUBMIT_RATE)."""

    scope = "webhooks.submit"
    rate_setting = "WEBHOOKS_SUBMIT_RATE"
