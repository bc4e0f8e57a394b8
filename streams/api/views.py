"""HTTP endpoints of the streams domain: the service API and the compat read-only check."""

from uuid import UUID

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.parsers import body_required
from core.api.serializers import ErrorOutputSerializer, output_data
from core.api.views import OpenView
from core.errors import NotFoundError
from streams.api.serializers import (
    CompatCanAddStreamSerializer,
    HeartbeatOutputSerializer,
    SessionOutputSerializer,
    SessionStartInputSerializer,
    SessionStartOutputSerializer,
    StreamLimitReachedSerializer,
    ViewerInputSerializer,
    ViewerOutputSerializer,
)
from streams.selectors import user_id_storable, viewer_can_start, viewer_state_get
from streams.services import session_heartbeat, session_start, session_stop, viewer_set_limit

MANAGE_SESSIONS = "streams.manage_sessions"
USER_ID_MAX_LENGTH = 255

_AUTH_ERRORS = {
    401: OpenApiResponse(ErrorOutputSerializer, "Missing or invalid credentials."),
    403: OpenApiResponse(ErrorOutputSerializer, "Authenticated without the needed permission."),
}


class SessionStartView(APIView):
    required_permissions = {"POST": [MANAGE_SESSIONS]}

    @extend_schema(
        operation_id="streams_session_start",
        tags=["streams"],
        summary="Start a stream session (or return the one a retry refers to)",
        description=(
            "Takes a slot of the viewer's limit under a lock that serialises the viewer's "
            "starts. A retry with the same `session_id`, or from the same `device_id` while "
            "that device's session is active, answers 200 with the existing session."
        ),
        request=SessionStartInputSerializer,
        responses={
            201: OpenApiResponse(SessionStartOutputSerializer, "Session started."),
            200: OpenApiResponse(SessionStartOutputSerializer, "A retry: the existing session."),
            400: OpenApiResponse(description="Invalid input (field errors)."),
            404: OpenApiResponse(ErrorOutputSerializer, "Unknown viewer."),
            409: OpenApiResponse(
                StreamLimitReachedSerializer,
                "Limit reached (`stream_limit_reached`, with the active sessions); or a "
                "`session_id` that has ended (`session_ended`) or belongs to another viewer "
                "(`session_id_taken`).",
            ),
            **_AUTH_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = SessionStartInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = session_start(**serializer.validated_data)
        body = {
            **output_data(SessionOutputSerializer, outcome.session),
            "active": outcome.active,
            "limit": outcome.limit,
        }
        return Response(body, status=201 if outcome.created else 200)


class SessionHeartbeatView(APIView):
    required_permissions = {"POST": [MANAGE_SESSIONS]}

    @extend_schema(
        operation_id="streams_session_heartbeat",
        tags=["streams"],
        summary="Keep a session alive: its lease runs STREAMS_LEASE_SECONDS from now",
        request=None,
        responses={
            200: HeartbeatOutputSerializer,
            404: OpenApiResponse(ErrorOutputSerializer, "Unknown session."),
            410: OpenApiResponse(
                ErrorOutputSerializer, "The session ended or expired; the client must start again."
            ),
            **_AUTH_ERRORS,
        },
    )
    def post(self, request: Request, session_id: UUID) -> Response:
        session = session_heartbeat(session_id=session_id)
        return Response(output_data(HeartbeatOutputSerializer, session))


class SessionDetailView(APIView):
    required_permissions = {"DELETE": [MANAGE_SESSIONS]}

    @extend_schema(
        operation_id="streams_session_stop",
        tags=["streams"],
        summary="Stop a session (idempotent)",
        responses={
            204: OpenApiResponse(description="Stopped (or already ended)."),
            404: OpenApiResponse(ErrorOutputSerializer, "Unknown session."),
            **_AUTH_ERRORS,
        },
    )
    def delete(self, request: Request, session_id: UUID) -> Response:
        session_stop(session_id=session_id)
        return Response(status=204)


def _viewer_body(user_id: str) -> dict:
    state = viewer_state_get(user_id=user_id)
    return ViewerOutputSerializer(
        {
            "user_id": state.viewer.user_id,
            "max_streams": state.limit,
            "active": state.active,
            "can_start": state.can_start,
        }
    ).data


class ViewerDetailView(APIView):
    required_permissions = {
        "GET": ["streams.view_viewer"],
        "PUT": ["streams.add_viewer", "streams.change_viewer"],
    }

    @extend_schema(
        operation_id="streams_viewer_get",
        tags=["streams"],
        summary="A viewer's limit, active sessions and whether a start would be accepted",
        responses={
            200: ViewerOutputSerializer,
            404: OpenApiResponse(ErrorOutputSerializer, "Unknown viewer."),
            **_AUTH_ERRORS,
        },
    )
    def get(self, request: Request, user_id: str) -> Response:
        return Response(_viewer_body(user_id))

    @extend_schema(
        operation_id="streams_viewer_put",
        tags=["streams"],
        summary="Create a viewer or change their limit",
        description=(
            "A limit lowered below the running count ends nothing: new starts are refused "
            "until enough sessions end."
        ),
        request=ViewerInputSerializer,
        responses={
            201: OpenApiResponse(ViewerOutputSerializer, "Viewer created."),
            200: OpenApiResponse(ViewerOutputSerializer, "Viewer updated."),
            400: OpenApiResponse(
                description="Invalid input (field errors; a user_id over 255 characters)."
            ),
            **_AUTH_ERRORS,
        },
    )
    def put(self, request: Request, user_id: str) -> Response:
        if len(user_id) > USER_ID_MAX_LENGTH:
            message = f"Ensure this field has no more than {USER_ID_MAX_LENGTH} characters."
            raise ValidationError({"user_id": [message]})
        if not user_id_storable(user_id):
            raise ValidationError({"user_id": ["Null characters are not allowed."]})
        body_required(request)
        serializer = ViewerInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _, created = viewer_set_limit(
            user_id=user_id, max_streams=serializer.validated_data.get("max_streams")
        )
        return Response(_viewer_body(user_id), status=201 if created else 200)


COMPAT_UNKNOWN_USER = {"can_add_stream": None, "errors": "Unable to verify stream availability."}


class CompatAddStreamView(OpenView):
    @extend_schema(
        operation_id="streams_compat_add_stream",
        tags=["streams compat"],
        summary="Can this user start one more stream? (the original service's contract)",
        responses={
            200: OpenApiResponse(
                CompatCanAddStreamSerializer,
                "Known user.",
                examples=[OpenApiExample("free slot", {"can_add_stream": True, "errors": None})],
            ),
            404: OpenApiResponse(
                CompatCanAddStreamSerializer,
                "Unknown user.",
                examples=[OpenApiExample("unknown user", COMPAT_UNKNOWN_USER)],
            ),
        },
    )
    def get(self, request: Request, user_id: str) -> Response:
        try:
            can_start = viewer_can_start(user_id=user_id)
        except NotFoundError:
            return Response(COMPAT_UNKNOWN_USER, status=404)
        return Response({"can_add_stream": can_start, "errors": None})
