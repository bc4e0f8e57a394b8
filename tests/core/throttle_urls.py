"""A view limited by a FixedWindowThrottle, used only by the rate-limit tests."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.throttling import FixedWindowThrottle


class PingThrottle(FixedWindowThrottle):
    scope = "tests.ping"
    rate_setting = "TESTS_PING_RATE"

    def get_key(self, request, view) -> str | None:
        # Requests naming no client are not limited (the hook's None case).
        return request.headers.get("X-Client") or None


class PingView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PingThrottle]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [path("ping", PingView.as_view())]
