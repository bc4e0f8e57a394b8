"""DRF throttles backed by ``core.ratelimit``: limits that hold across every web process.

DRF's own ``SimpleRateThrottle`` keeps a list of timestamps in the cache and writes it back, a
read-modify-write that two processes can interleave; these count with one atomic increment.
A refused request raises DRF's ``Throttled``: 429 with ``Retry-After`` and the platform's error
body ``{"code": "throttled", "detail": ...}``.

Declare one subclass per limit and list it in a view's ``throttle_classes``::

    class SubmitThrottle(FixedWindowThrottle):
        scope = "webhooks.submit"               # names the counter
        rate_setting = "WEBHOOKS_SUBMIT_RATE"   # setting: requests per window (0 = no limit)

        # optional: what to count by; the default is the client address
        def get_key(self, request: Request, view: APIView) -> str | None:
            return str(request.auth.app_id) if request.auth else None  # None = not limited
"""

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from core.fastpath import HANDOVER_KEY
from core.ratelimit import RateLimitDecision, ratelimit_hit


class FixedWindowThrottle(BaseThrottle):
    scope: str = ""
    rate_setting: str = ""
    window_seconds: int = 60

    def __init__(self) -> None:
        self._retry_after: int | None = None

    @property
    def limit(self) -> int:
        return int(getattr(settings, self.rate_setting))

    def get_key(self, request: Request, view: APIView) -> str | None:
        """What the limit counts by (the client address unless overridden)."""
        return self.get_ident(request)

    def decision(self, request: Request, view: APIView | None) -> RateLimitDecision | None:
        """Count ``request`` against the limit; None when it is not limited. Reads nothing of
        the request but ``META`` (the WSGI fast path passes its environ so)."""
        limit = self.limit
        if limit <= 0:
            return None
        key = self.get_key(request, view)  # type: ignore[arg-type]
        if key is None:
            return None
        return ratelimit_hit(
            key=f"{self.scope}:{key}", limit=limit, window_seconds=self.window_seconds
        )

    def allow_request(self, request: Request, view: APIView) -> bool:
        # A request the WSGI fast path handed over was counted there (core.fastpath): its
        # decision is answered, or the error it met is raised by the view.
        handed_over = request.META.get(HANDOVER_KEY)
        if isinstance(handed_over, BaseException):
            return True
        if isinstance(handed_over, RateLimitDecision):
            decision: RateLimitDecision | None = handed_over
        else:
            decision = self.decision(request, view)
        if decision is None:
            return True
        self._retry_after = decision.retry_after_seconds
        return decision.allowed

    def wait(self) -> float | None:
        return self._retry_after
