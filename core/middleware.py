"""Request-level guards that must run before any view reads the body."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class BodySizeLimitMiddleware:
    """Answer 413 before reading a body larger than the configured limit.

    JSON bodies are capped by ``API_MAX_BODY_BYTES``. File uploads (multipart) are streamed to
    disk by Django and capped by ``API_MAX_UPLOAD_BYTES`` instead (see
    docs/decisions/0002-body-size-limits.md).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw_length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        if length < 0:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.startswith("multipart/form-data"):
            limit = settings.API_MAX_UPLOAD_BYTES
        else:
            limit = settings.API_MAX_BODY_BYTES
        if length > limit:
            return JsonResponse(
                {"detail": f"Request body too large: {length} bytes, the limit is {limit}."},
                status=413,
            )
        return self.get_response(request)
