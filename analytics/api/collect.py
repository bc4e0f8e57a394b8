"""``POST /api/analytics/collect``: one event or a batch, admitted then stored before the 202.

The key's secret is checked by ``ApiKeyAuthentication``; whether the key is still live, the
per-key rate limit and the insert are one admission (``analytics.admission``), which answers
401 before 429 before the body's own 400.
"""

from datetime import UTC, datetime

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import (
    AuthenticationFailed,
    NotAuthenticated,
    ParseError,
    Throttled,
    ValidationError,
)
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.admission import Admission, collect_admit
from analytics.api.authentication import ApiKeyAuthentication, HasApiKey
from analytics.api.serializers import CollectBatchOutputSerializer, CollectEventSerializer
from analytics.api.views import INVALID
from analytics.copy_rows import PlainRows
from analytics.plain_batch import plain_rows
from analytics.services import KeyIdentity
from analytics.sql import postgres
from analytics.validation import CleanEvent, event_validate
from core.api.serializers import ErrorOutputSerializer
from core.fastpath import fast_path_outcome


def _key_identity(request: Request) -> KeyIdentity:
    """The app key that authenticated a collect request (``ApiKeyAuthentication``)."""
    identity = request.auth
    if not isinstance(identity, KeyIdentity):
        raise NotAuthenticated()
    return identity


def _client_ip(request: Request) -> str:
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"


class CollectView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    throttle_classes: list = []  # the per-key limit is counted by the admission
    rate_limited = True  # so the schema declares its 429

    @extend_schema(
        operation_id="analytics_collect",
        tags=["analytics"],
        summary="Collect one event, or a JSON array of events (per-item results)",
        description=(
            "One JSON object: 202 once stored, 400 with field errors otherwise. A JSON array of "
            "up to ANALYTICS_MAX_BATCH events: good items are committed together before the 202, "
            "bad ones are listed by index (from 0) and not stored."
        ),
        request={"application/json": CollectEventSerializer},
        responses={
            202: OpenApiResponse(
                CollectBatchOutputSerializer,
                "Stored (committed). A single event answers {accepted: 1} only.",
            ),
            400: INVALID,
            401: OpenApiResponse(
                ErrorOutputSerializer, "Missing, invalid, revoked or expired key."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        identity = _key_identity(request)
        # One valid event the WSGI fast path admitted already (analytics.api.fast): its
        # admission is answered here, not made again.
        decided = fast_path_outcome(request)
        client_ip = _client_ip(request)
        rows = _plain_batch(request, client_ip=client_ip)
        if rows is not None:
            return Response({"accepted": _admit(identity, rows), "rejected": []}, status=202)
        try:
            data = request.data
        except ParseError:
            _admit(identity, [])  # 401 and 429 answer before the body's 400
            raise
        if isinstance(data, list):
            return self._batch(data, identity=identity, client_ip=client_ip)
        event, errors = event_validate(data, client_ip=client_ip)
        accepted = _admit(identity, [] if event is None else [event], decided=decided)
        if event is None:
            raise ValidationError(errors)
        return Response({"accepted": accepted}, status=202)

    def _batch(self, items: list, *, identity: KeyIdentity, client_ip: str) -> Response:
        limit = settings.ANALYTICS_MAX_BATCH
        if len(items) > limit:
            _admit(identity, [])
            raise ValidationError(
                {"non_field_errors": [f"At most {limit} events per batch, got {len(items)}."]}
            )
        good: list[CleanEvent] = []
        rejected: list[dict[str, object]] = []
        now = datetime.now(tz=UTC)  # one receipt time: the default timestamp of the batch
        for index, item in enumerate(items):
            event, errors = event_validate(item, client_ip=client_ip, now=now)
            if event is None:
                rejected.append({"index": index, "errors": errors})
            else:
                good.append(event)
        accepted = _admit(identity, good)
        return Response({"accepted": accepted, "rejected": rejected}, status=202)


# The content types the JSON parser would read as UTF-8 (others take the parser's way).
_PLAIN_CONTENT_TYPES = frozenset(
    ("application/json", "application/json; charset=utf-8", "application/json;charset=utf-8")
)


def _plain_batch(request: Request, *, client_ip: str) -> PlainRows | None:
    """On PostgreSQL, a batch of plain events read from the body straight into its rows
    (``analytics.plain_batch``, decision 0078); None for the parser and the per-item checks."""
    if not postgres() or request.META.get("CONTENT_TYPE", "").lower() not in _PLAIN_CONTENT_TYPES:
        return None
    body = request.body  # within API_MAX_BODY_BYTES (BodySizeLimitMiddleware)
    if body[:1] != b"[":
        return None
    return plain_rows(body, client_ip=client_ip, now=datetime.now(tz=UTC))


def _admit(
    identity: KeyIdentity, events: list[CleanEvent] | PlainRows, *, decided: object = None
) -> int:
    """Store ``events`` if the key is live and within its limit; how many were stored.
    Raises 401 (revoked or expired) or 429 (over the limit, with ``Retry-After``).

    ``decided``: the admission of these events, made already on the fast path."""
    if isinstance(decided, Admission):
        admission = decided
    else:
        admission = collect_admit(identity=identity, events=events)
    if not admission.live:
        raise AuthenticationFailed("Invalid, revoked or expired API key.")
    if admission.limit is not None and not admission.allowed:
        raise Throttled(wait=admission.limit.retry_after_seconds)
    return admission.stored
