"""Platform endpoints that belong to no domain (health, the schema), and the open-view base."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.renderers import JSONRenderer
from core.selectors import health_get

HealthOutputSerializer = inline_serializer(
    "HealthOutput",
    {
        "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "database": serializers.CharField(),
        "worker": inline_serializer(
            "HealthWorker",
            {
                "clusters": serializers.IntegerField(),
                "last_seen": serializers.DateTimeField(allow_null=True),
            },
        ),
    },
)


class OpenView(APIView):
    """An endpoint open to anyone: no credentials read, no permission checked.

    For the health check and the compat endpoints the spec declares open.
    """

    authentication_classes: list[type[Any]] = []
    permission_classes = [AllowAny]


class HealthView(OpenView):
    @extend_schema(
        operation_id="healthz",
        tags=["platform"],
        summary="Database and worker health",
        responses={
            200: HealthOutputSerializer,
            503: OpenApiResponse(HealthOutputSerializer, "Database down or no worker seen."),
        },
    )
    def get(self, request: Request) -> Response:
        health = health_get()
        body = {
            "status": "ok" if health.ok else "unavailable",
            "database": "ok" if health.database_ok else f"error: {health.database_error}",
            "worker": {
                "clusters": health.worker_clusters,
                "last_seen": health.worker_last_seen.isoformat()
                if health.worker_last_seen
                else None,
            },
        }
        return Response(body, status=200 if health.ok else 503)


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema; its errors (a POST: 405) are JSON like every other API answer."""

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


# The docs pages load everything from this host (drf-spectacular-sidecar's files). Redoc's
# bundle still points one image (the Redocly logo in its footer) at a CDN; the policy makes the
# browser refuse it, and anything a later bundle adds, instead of calling another host.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "style-src 'self' 'unsafe-inline'",
        "script-src 'self' 'unsafe-inline'",
        "worker-src 'self' blob:",
        "connect-src 'self'",
    ]
)


class _SameHostOnly(APIView):
    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response


class SwaggerView(_SameHostOnly, SpectacularSwaggerView):
    """Swagger UI, allowed to load nothing from another host."""


class RedocView(_SameHostOnly, SpectacularRedocView):
    """Redoc, allowed to load nothing from another host (its footer logo included)."""
