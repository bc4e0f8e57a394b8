"""Request-level guards that must run before any view reads the body or the path."""

from collections.abc import Callable
from urllib.parse import unquote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


def _error(code: str, detail: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


class BodySizeLimitMiddleware:
    """Refuse, before any view runs, what no view can take.

    - A body larger than the configured limit: 413 ``request_too_large``, answered from
      ``Content-Length`` before the body is read. JSON bodies are capped by
      ``API_MAX_BODY_BYTES``; file uploads (multipart) are streamed to disk by Django and capped
      by ``API_MAX_UPLOAD_BYTES`` instead (see docs/decisions/0002-body-size-limits.md).
    - A NUL character in the path or the query string (``/users/a%00b``): 400
      ``nul_character``. PostgreSQL cannot store NUL in text and fails the query, SQLite stores
      it; refusing it here gives the same answer on both, for every route (decision 0004).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info or "\x00" in unquote(request.META.get("QUERY_STRING", "")):
            return _error(
                "nul_character", "The URL may not contain NUL characters (%00).", status=400
            )
        raw_length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            length = -1
        if length < 0:
            return _error("invalid_content_length", "Invalid Content-Length header.", 400)
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.startswith("multipart/form-data"):
            limit = settings.API_MAX_UPLOAD_BYTES
        else:
            limit = settings.API_MAX_BODY_BYTES
        if length > limit:
            return _error(
                "request_too_large",
                f"Request body too large: {length} bytes, the limit is {limit}.",
                status=413,
            )
        return self.get_response(request)
