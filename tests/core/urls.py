"""A JSON echo endpoint, used only by the tests of the API error conventions."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError


class EchoView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request):
        if request.data == {"fail": "conflict"}:
            raise ApplicationError(
                "Already there.", code="already_there", status_code=409, extra={"id": 7}
            )
        return Response({"echo": request.data})


class GuardedView(APIView):
    required_permissions = {"GET": ["auth.view_user"]}

    def get(self, request):
        return Response({"ok": True})


class BrokenView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("a bug")


handler500 = "core.views.server_error"  # as config.urls

urlpatterns = [
    path("broken", BrokenView.as_view()),
    path("echo", EchoView.as_view()),
    path("guarded", GuardedView.as_view()),
]
