"""HTTP endpoints of the analytics domain: owners' auth and keys, and the summaries (collect is
in ``analytics.api.collect``)."""

from django.contrib.auth.models import User
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.serializers import (
    AnalyticsFieldErrorsOutputSerializer,
    ApiKeyOutputSerializer,
    AppIdInputSerializer,
    AppRegisterInputSerializer,
    AppRegisterOutputSerializer,
    EventSummaryInputSerializer,
    EventSummaryOutputSerializer,
    RegeneratedKeyOutputSerializer,
    RevokeInputSerializer,
    RevokeOutputSerializer,
    SignupInputSerializer,
    SignupOutputSerializer,
    TokenInputSerializer,
    TokenOutputSerializer,
    UserStatsInputSerializer,
    UserStatsOutputSerializer,
)
from analytics.api.throttling import ReadThrottle
from analytics.selectors import (
    api_key_live_get,
    app_get_owned,
    event_summary_get,
    user_stats_get,
)
from analytics.services import (
    api_key_regenerate,
    api_key_revoke,
    app_register,
    owner_signup,
    owner_token_get,
    owner_token_issue,
)
from core.api.serializers import ErrorOutputSerializer
from core.api.views import OpenView

UNAUTHORIZED = OpenApiResponse(ErrorOutputSerializer, "Missing or invalid credentials.")
NOT_FOUND = OpenApiResponse(ErrorOutputSerializer, "Not one of your apps.")
INVALID = OpenApiResponse(AnalyticsFieldErrorsOutputSerializer, "Invalid input (field errors).")
APP_ID_PARAMETER = OpenApiParameter(
    "app_id", str, OpenApiParameter.QUERY, required=False, description="One of your apps."
)


def _owner(request: Request) -> User:
    """The signed-in owner (the permission classes let no one else this far)."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def _validated(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class OwnerView(APIView):
    """Endpoints of a signed-in owner (token or session); each sees only their own apps."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [ReadThrottle]


# --- /api/auth/ -----------------------------------------------------------------------------


class SignupView(OpenView):
    @extend_schema(
        operation_id="analytics_auth_signup",
        tags=["analytics"],
        summary="Create an owner account (when ANALYTICS_OPEN_SIGNUP is on)",
        request=SignupInputSerializer,
        responses={
            201: SignupOutputSerializer,
            400: INVALID,
            403: OpenApiResponse(ErrorOutputSerializer, "Signup is closed."),
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(SignupInputSerializer, request.data)
        token = owner_signup(**data)
        return Response({"username": token.user.username, "token": token.key}, status=201)


class TokenView(OpenView):
    # POST: username and password, open to anyone. GET: the signed-in owner's own token (the
    # page a sign-in with Google lands on: the session is the credential), so GET takes the
    # owner endpoints' authentication, permission and read limit.

    reading = False

    def initialize_request(self, request, *args, **kwargs):
        # Chosen here: the authenticators are needed before DRF's request exists.
        self.reading = request.method == "GET"
        return super().initialize_request(request, *args, **kwargs)

    def get_authenticators(self):
        if self.reading:
            return [auth() for auth in OwnerView.authentication_classes]
        return super().get_authenticators()

    def get_permissions(self):
        if self.reading:
            return [permission() for permission in OwnerView.permission_classes]
        return super().get_permissions()

    def get_throttles(self):
        if self.reading:
            return [throttle() for throttle in OwnerView.throttle_classes]
        return super().get_throttles()

    @extend_schema(
        operation_id="analytics_auth_token_read",
        tags=["analytics"],
        summary="The signed-in owner's API token (where a sign-in with Google lands)",
        description=(
            "For an owner signed in by session (after a sign-in with Google) or token: their "
            "API token, the one POST /api/auth/token gives for a password."
        ),
        responses={200: SignupOutputSerializer, 401: UNAUTHORIZED},
    )
    def get(self, request: Request) -> Response:
        token = owner_token_issue(user=_owner(request))
        return Response({"username": token.user.username, "token": token.key})

    @extend_schema(
        operation_id="analytics_auth_token",
        tags=["analytics"],
        summary="Exchange an owner's username and password for an API token",
        description="Open to anyone; the same token each time (made at the first ask).",
        request=TokenInputSerializer,
        responses={200: TokenOutputSerializer, 400: INVALID},
    )
    def post(self, request: Request) -> Response:
        data = _validated(TokenInputSerializer, request.data)
        token = owner_token_get(**data)
        return Response({"token": token.key})


class RegisterView(OwnerView):
    @extend_schema(
        operation_id="analytics_auth_register",
        tags=["analytics"],
        summary="Register an app; its API key is shown once",
        request=AppRegisterInputSerializer,
        responses={201: AppRegisterOutputSerializer, 400: INVALID, 401: UNAUTHORIZED},
    )
    def post(self, request: Request) -> Response:
        data = _validated(AppRegisterInputSerializer, request.data)
        app, issued = app_register(owner=_owner(request), **data)
        return Response(
            {
                "appId": str(app.pk),
                "name": app.name,
                "domain": app.domain,
                "apiKey": issued.raw,
                "expiresAt": issued.key.expires_at,
            },
            status=201,
        )


class ApiKeyView(OwnerView):
    @extend_schema(
        operation_id="analytics_auth_api_key",
        tags=["analytics"],
        summary="The metadata of an app's key (never the key itself)",
        parameters=[OpenApiParameter("app_id", str, OpenApiParameter.QUERY, required=True)],
        responses={200: ApiKeyOutputSerializer, 400: INVALID, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        data = _validated(AppIdInputSerializer, request.query_params)
        app = app_get_owned(owner=_owner(request), app_id=data["app_id"])
        key = api_key_live_get(app=app)
        if key is None:
            return Response({"code": "not_found", "detail": "This app has no key."}, 404)
        return Response(
            {
                "appId": str(app.pk),
                "prefix": key.prefix,
                "createdAt": key.created_at,
                "lastUsedAt": key.last_used_at,
                "expiresAt": key.expires_at,
                "active": key.is_active,
            }
        )


class RegenerateView(OwnerView):
    @extend_schema(
        operation_id="analytics_auth_regenerate",
        tags=["analytics"],
        summary="Issue a new key for an app; the previous one stops working",
        request=AppIdInputSerializer,
        responses={
            200: RegeneratedKeyOutputSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(AppIdInputSerializer, request.data)
        issued = api_key_regenerate(owner=_owner(request), app_id=data["app_id"])
        return Response({"appId": str(issued.key.app_id), "apiKey": issued.raw})


class RevokeView(OwnerView):
    @extend_schema(
        operation_id="analytics_auth_revoke",
        tags=["analytics"],
        summary="Revoke an app's key (refused from the next request on)",
        request=RevokeInputSerializer,
        responses={200: RevokeOutputSerializer, 400: INVALID, 401: UNAUTHORIZED, 404: NOT_FOUND},
    )
    def post(self, request: Request) -> Response:
        data = _validated(RevokeInputSerializer, request.data)
        owner = _owner(request)
        if "apiKey" in data:
            key = api_key_revoke(owner=owner, raw_key=data["apiKey"])
            return Response({"appId": str(key.app_id) if key else None, "revoked": key is not None})
        app = app_get_owned(owner=owner, app_id=data["app_id"])
        key = api_key_revoke(owner=owner, app_id=app.pk)
        return Response({"appId": str(app.pk), "revoked": key is not None})


# --- /api/analytics/ ------------------------------------------------------------------------


class EventSummaryView(OwnerView):
    @extend_schema(
        operation_id="analytics_event_summary",
        tags=["analytics"],
        summary="Count, unique users and devices of one event (fresh: includes pending events)",
        parameters=[
            OpenApiParameter("event", str, OpenApiParameter.QUERY, required=True),
            OpenApiParameter(
                "startDate",
                OpenApiTypes.DATE,
                OpenApiParameter.QUERY,
                description="Inclusive, UTC.",
            ),
            OpenApiParameter(
                "endDate", OpenApiTypes.DATE, OpenApiParameter.QUERY, description="Inclusive, UTC."
            ),
            APP_ID_PARAMETER,
        ],
        responses={
            200: EventSummaryOutputSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            404: NOT_FOUND,
        },
    )
    def get(self, request: Request) -> Response:
        data = _validated(EventSummaryInputSerializer, request.query_params)
        summary = event_summary_get(
            owner=_owner(request),
            event=data["event"],
            start=data.get("startDate"),
            end=data.get("endDate"),
            app_id=data.get("app_id"),
        )
        return Response(
            {
                "event": summary.event,
                "count": summary.count,
                "uniqueUsers": summary.unique_users,
                "deviceData": summary.device_data,
            }
        )


class UserStatsView(OwnerView):
    @extend_schema(
        operation_id="analytics_user_stats",
        tags=["analytics"],
        summary="A user's event count and the device details of their latest event",
        parameters=[
            OpenApiParameter("userId", str, OpenApiParameter.QUERY, required=True),
            APP_ID_PARAMETER,
        ],
        responses={
            200: UserStatsOutputSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            404: OpenApiResponse(ErrorOutputSerializer, "Unknown user, or not one of your apps."),
        },
    )
    def get(self, request: Request) -> Response:
        data = _validated(UserStatsInputSerializer, request.query_params)
        stats = user_stats_get(
            owner=_owner(request), user_id=data["userId"], app_id=data.get("app_id")
        )
        return Response(
            {
                "userId": stats.user_id,
                "totalEvents": stats.total_events,
                "deviceDetails": {"browser": stats.browser, "os": stats.os},
                "ipAddress": stats.ip_address,
            }
        )
