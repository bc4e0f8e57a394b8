"""HTTP endpoints of the ingestion domain: the compat pair and the batch endpoint."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.parsers import JSONParser
from core.api.serializers import ErrorOutputSerializer
from core.errors import NotFoundError
from core.fastpath import fast_path_outcome
from ingestion.api.authentication import HasIngestionSecret, IngestionSecretAuthentication
from ingestion.api.parsers import InvalidLine, NDJSONParser
from ingestion.api.serializers import (
    EventAcceptedOutputSerializer,
    EventBatchOutputSerializer,
    EventDuplicateOutputSerializer,
    EventInputSerializer,
    FieldErrorsOutputSerializer,
    UserEventsOutputSerializer,
)
from ingestion.selectors import user_revenue_summary_get
from ingestion.services import event_accept, events_accept_many
from ingestion.validation import CleanEvent, event_validate, idempotency_key_validate

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Same key from the same credentials within the retention window: stored once. "
        "An eventId in the body takes precedence."
    ),
)
UNAUTHORIZED = OpenApiResponse(ErrorOutputSerializer, "Authorization is not a configured secret.")
INVALID = OpenApiResponse(FieldErrorsOutputSerializer, "Invalid event or malformed JSON.")
UNSUPPORTED = OpenApiResponse(ErrorOutputSerializer, "Body is not JSON.")
TOO_LARGE = OpenApiResponse(ErrorOutputSerializer, "Body over API_MAX_BODY_BYTES.")


class IngestionView(APIView):
    authentication_classes = [IngestionSecretAuthentication]
    permission_classes = [HasIngestionSecret]
    parser_classes = [JSONParser]


def _credential(request: Request) -> str:
    """The secret that authenticated the request (``IngestionSecretAuthentication``)."""
    credential = request.auth
    if not isinstance(credential, str):
        raise NotAuthenticated()
    return credential


def _idempotency_header(request: Request) -> str | None:
    key, errors = idempotency_key_validate(request.headers.get("Idempotency-Key"))
    if errors:
        raise ValidationError(errors)
    return key


class LiveEventView(IngestionView):
    @extend_schema(
        operation_id="ingestion_live_event",
        tags=["ingestion compat"],
        summary="Record one revenue event (committed before the answer)",
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        request=EventInputSerializer,
        responses={
            201: EventAcceptedOutputSerializer,
            200: OpenApiResponse(EventDuplicateOutputSerializer, "Repeat of a stored key."),
            400: INVALID,
            401: UNAUTHORIZED,
            413: TOO_LARGE,
            415: UNSUPPORTED,
        },
    )
    def post(self, request: Request) -> Response:
        fast_path_outcome(request)  # raises what storing the event met on the fast path
        event, errors = event_validate(request.data)
        key = _idempotency_header(request)
        if event is None:
            raise ValidationError(errors)
        accepted = event_accept(credential=_credential(request), event=event, idempotency_key=key)
        if accepted.duplicate:
            return Response({"id": str(accepted.id), "status": "accepted", "duplicate": True})
        return Response({"id": str(accepted.id), "status": "accepted"}, status=201)


class UserEventsView(IngestionView):
    @extend_schema(
        operation_id="ingestion_user_events",
        tags=["ingestion compat"],
        summary="A user's processed revenue and pending event count",
        parameters=[OpenApiParameter("userId", str, OpenApiParameter.PATH)],
        responses={
            200: UserEventsOutputSerializer,
            401: UNAUTHORIZED,
            404: OpenApiResponse(ErrorOutputSerializer, "No event for this user."),
        },
    )
    def get(self, request: Request, userId: str) -> Response:
        summary = user_revenue_summary_get(user_id=userId)
        if summary is None:
            raise NotFoundError("No events for this user.")
        return Response(
            {
                "user_id": summary.user_id,
                "revenue": summary.revenue,
                "pending_events": summary.pending_events,
            }
        )


class EventBatchView(IngestionView):
    parser_classes = [JSONParser, NDJSONParser]

    @extend_schema(
        operation_id="ingestion_events_batch",
        tags=["ingestion"],
        summary="Record many revenue events (JSON array or NDJSON), with per-item results",
        description=(
            "Up to INGESTION_MAX_BATCH events. Items are indexed from 0 in the order sent; in "
            "NDJSON blank lines are skipped and not counted, and a line that is not JSON is a "
            "rejected item. Good items are committed together before the answer. With an "
            "Idempotency-Key header, an item without eventId gets the key `<header>:<index>`."
        ),
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        request={
            "application/json": EventInputSerializer(many=True),
            "application/x-ndjson": OpenApiTypes.STR,
        },
        responses={
            200: EventBatchOutputSerializer,
            400: INVALID,
            401: UNAUTHORIZED,
            413: TOO_LARGE,
            415: UNSUPPORTED,
        },
    )
    def post(self, request: Request) -> Response:
        items = request.data
        if not isinstance(items, list):
            raise ValidationError(
                {"non_field_errors": ["Expected a JSON array of events or an NDJSON body."]}
            )
        limit = settings.INGESTION_MAX_BATCH
        if len(items) > limit:
            raise ValidationError(
                {"non_field_errors": [f"At most {limit} events per batch, got {len(items)}."]}
            )
        header_key = _idempotency_header(request)
        good: list[tuple[CleanEvent, str | None]] = []
        rejected: list[dict[str, object]] = []
        for index, item in enumerate(items):
            if isinstance(item, InvalidLine):
                message = f"Line {item.line_number} is not valid JSON: {item.error}"
                rejected.append({"index": index, "errors": {"non_field_errors": [message]}})
                continue
            event, errors = event_validate(item)
            if event is None:
                rejected.append({"index": index, "errors": errors})
                continue
            good.append((event, f"{header_key}:{index}" if header_key else None))
        result = events_accept_many(credential=_credential(request), events=good)
        return Response(
            {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": rejected}
        )
