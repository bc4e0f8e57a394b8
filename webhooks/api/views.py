"""HTTP endpoints of the webhooks domain: collection requests (open, the compat path too),
redelivery and the mock providers' settings (operators), and the mock providers themselves."""

from uuid import UUID

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.serializers import ErrorOutputSerializer
from core.api.views import OpenView
from core.fastpath import fast_path_outcome
from webhooks.api.serializers import (
    CollectionAcceptedOutputSerializer,
    CollectionInputSerializer,
    CollectionOutputSerializer,
    MockProviderInputSerializer,
    MockProviderOutputSerializer,
    collection_accepted_output,
)
from webhooks.api.throttling import SubmitThrottle
from webhooks.models import AttemptKind, CollectionRequest
from webhooks.providers import mock_provider_answer
from webhooks.selectors import collection_delivery, collection_get, mock_provider_get
from webhooks.services import collection_create, collection_redeliver, mock_provider_set

_AUTH_ERRORS = {
    401: OpenApiResponse(ErrorOutputSerializer, "Missing or invalid credentials."),
    403: OpenApiResponse(ErrorOutputSerializer, "Authenticated without the needed permission."),
}
_NOT_FOUND = OpenApiResponse(ErrorOutputSerializer, "No such collection request.")
_DELIVERY_FIELDS = (
    "webhook_id",
    "state",
    "attempts",
    "next_attempt_at",
    "window_ends_at",
    "last_status_code",
    "last_response",
    "delivered_at",
)


def collection_body(request: CollectionRequest) -> dict:
    """The status document of a request (its fetches and delivery with their attempts)."""
    attempts = list(request.attempts.all())
    fetches = [
        {
            **{f: getattr(fetch, f) for f in ("provider", "state", "attempts", "next_attempt_at")},
            "fetched_at": fetch.fetched_at,
            "last_error": fetch.last_error,
            "attempt_log": [
                a for a in attempts if a.kind == AttemptKind.FETCH and a.provider == fetch.provider
            ],
        }
        for fetch in request.fetches.all()
    ]
    delivery = collection_delivery(request)
    delivery_body = None
    if delivery is not None:
        delivery_body = {
            **{f: getattr(delivery, f) for f in _DELIVERY_FIELDS},
            "attempt_log": [a for a in attempts if a.kind == AttemptKind.DELIVERY],
        }
    body = {
        **{f: getattr(request, f) for f in ("id", "status", "providers", "callback_url")},
        **{f: getattr(request, f) for f in ("created_at", "deadline_at", "finished_at")},
        "fetches": fetches,
        "delivery": delivery_body,
    }
    return CollectionOutputSerializer(body).data


class CollectionCreateView(OpenView):
    throttle_classes = [SubmitThrottle]

    @extend_schema(
        operation_id="webhooks_collection_create",
        tags=["webhooks"],
        summary="Ask for the providers' data to be collected and POSTed to a callback",
        description=(
            "Open (no credentials), rate limited per client address. Answers 202 at once; "
            "the work runs in the background and `status_url` tells how it goes."
        ),
        request=CollectionInputSerializer,
        responses={
            202: CollectionAcceptedOutputSerializer,
            400: OpenApiResponse(
                description="Invalid input (field errors): unknown provider, bad or internal URL."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        fast_path_outcome(request)  # raises what storing the request met on the fast path
        serializer = CollectionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = collection_create(
            providers=serializer.validated_data["provider"],
            callback_url=serializer.validated_data["callbackUrl"],
        )
        status_url = request.build_absolute_uri(
            reverse("webhooks-collection-detail", args=[created.pk])
        )
        return Response(collection_accepted_output(created, status_url), status=202)


class CompatWebhookView(CollectionCreateView):
    @extend_schema(
        operation_id="webhooks_compat_webhook",
        tags=["webhooks compat"],
        summary="The original service's path: same as POST /api/webhooks/collections",
        request=CollectionInputSerializer,
        responses={
            202: CollectionAcceptedOutputSerializer,
            400: OpenApiResponse(description="Invalid input (field errors)."),
        },
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class CollectionDetailView(OpenView):
    @extend_schema(
        operation_id="webhooks_collection_get",
        tags=["webhooks"],
        summary="A collection request's status, its fetches and its delivery, with attempts",
        description="Open: the unguessable id is what grants access.",
        responses={200: CollectionOutputSerializer, 404: _NOT_FOUND},
    )
    def get(self, request: Request, request_id: UUID) -> Response:
        return Response(collection_body(collection_get(request_id=request_id)))


class CollectionRedeliverView(APIView):
    required_permissions = {"POST": ["webhooks.change_delivery"]}

    @extend_schema(
        operation_id="webhooks_collection_redeliver",
        tags=["webhooks"],
        summary="Deliver the callback again (same webhook-id, new delivery window)",
        request=None,
        responses={
            202: CollectionOutputSerializer,
            404: _NOT_FOUND,
            409: OpenApiResponse(
                ErrorOutputSerializer,
                "Still collecting (`not_ready`) or being delivered (`delivering`).",
            ),
            **_AUTH_ERRORS,
        },
    )
    def post(self, request: Request, request_id: UUID) -> Response:
        collection_redeliver(request_id=request_id)
        return Response(collection_body(collection_get(request_id=request_id)), status=202)


class MockProviderSettingsView(APIView):
    required_permissions = {
        "GET": ["webhooks.view_mockprovider"],
        "PUT": ["webhooks.change_mockprovider"],
    }

    @extend_schema(
        operation_id="webhooks_mock_provider_get",
        tags=["webhooks"],
        summary="A mock provider's failure settings",
        responses={
            200: MockProviderOutputSerializer,
            404: OpenApiResponse(ErrorOutputSerializer, "No mock provider with this name."),
            **_AUTH_ERRORS,
        },
    )
    def get(self, request: Request, name: str) -> Response:
        return Response(MockProviderOutputSerializer(mock_provider_get(name=name)).data)

    @extend_schema(
        operation_id="webhooks_mock_provider_set",
        tags=["webhooks"],
        summary="Change a mock provider's failure settings (takes effect at once)",
        request=MockProviderInputSerializer,
        responses={
            200: MockProviderOutputSerializer,
            400: OpenApiResponse(description="Invalid input (field errors)."),
            404: OpenApiResponse(ErrorOutputSerializer, "No mock provider with this name."),
            **_AUTH_ERRORS,
        },
    )
    def put(self, request: Request, name: str) -> Response:
        mock_provider_get(name=name)  # 404 before validating the body of an unknown name
        serializer = MockProviderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        updated = mock_provider_set(name=name, **serializer.validated_data)
        return Response(MockProviderOutputSerializer(updated).data)


class MockProviderView(OpenView):
    @extend_schema(
        operation_id="webhooks_mock_provider_fetch",
        tags=["webhooks mock providers"],
        summary="A mock provider: its exact payload, or an injected failure",
        description=(
            "Fails with 500 `#fail` (text/plain) at its failure rate and during its outage "
            "window, after its latency. 404 with an empty body for an unknown name, and for "
            "every name when PROVIDERS_MOCK_ENABLED is off."
        ),
        responses={
            (200, "application/json"): OpenApiResponse(
                {"type": "array", "items": {"type": "object"}}, "The provider's payload."
            ),
            404: OpenApiResponse(description="Unknown provider (empty body)."),
            (500, "text/plain"): OpenApiResponse(
                {"type": "string", "enum": ["#fail"]}, "An injected failure."
            ),
        },
    )
    def get(self, request: Request, name: str) -> HttpResponse:
        answer = mock_provider_answer(name=name)
        response = HttpResponse(answer.body, status=answer.status)
        if answer.content_type is None:
            del response["Content-Type"]
        else:
            response["Content-Type"] = answer.content_type
        if answer.status >= 500:
            # An injected failure is the mock working, not a server error: Django must not log
            # it as one (django.request's "Internal Server Error" is kept for real bugs).
            # The marker django.utils.log.log_response reads; the stubs do not declare it.
            response._has_been_logged = True  # type: ignore[attr-defined]
        return response
