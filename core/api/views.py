"""Platform endpoints that belong to no domain (health, the schema), and the open-view base."""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import (
    SCHEMA_KWARGS,
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
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


# (URLconf, version, language, media type) -> the schema's Content-Disposition and rendered
# bytes. The schema is the code's, the same for every request of a process; building and
# rendering it took 80-150 ms of CPU, and the docs pages fetch it each time they load.
_SCHEMAS: dict[tuple[str, str | None, str | None, str], tuple[str, bytes]] = {}
_SCHEMA_KEY = "platform_schema_key"


class _AlreadyRendered(BaseRenderer):
    """Bytes rendered earlier, answered with the accepted renderer's type and charset."""

    def __init__(self, renderer: BaseRenderer) -> None:
        self.media_type = renderer.media_type
        self.format = renderer.format
        self.charset = renderer.charset

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> Any:
        return data


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema, built and rendered once per process for each version, language and
    format; its errors (a POST: 405) are JSON like every other API answer."""

    @extend_schema(**SCHEMA_KWARGS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        language = request.GET.get("lang") if settings.USE_I18N else None
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (settings.ROOT_URLCONF, version, language, request.accepted_media_type)
        cached = _SCHEMAS.get(key)
        if cached is None:
            setattr(request, _SCHEMA_KEY, key)
            response: Response = super().get(request, *args, **kwargs)
            return response
        disposition, content = cached
        request.accepted_renderer = _AlreadyRendered(request.accepted_renderer)
        return Response(content, headers={"Content-Disposition": disposition})

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        key = getattr(request, _SCHEMA_KEY, None)
        if key is not None and response.status_code == 200:
            response.render()
            _SCHEMAS[key] = (response["Content-Disposition"], response.content)
        return response

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
