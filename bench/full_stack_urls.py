"""The platform's URLs plus ``/bench/empty``: an empty DRF view behind every middleware."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class EmptyView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("bench/empty", EmptyView.as_view()),
    path("", include("config.urls")),
]
