"""Request-level middleware: the guards that run before any view reads the body or the path
(body size, NUL in URLs) and the API fast path past the browser middleware."""

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.http.response import HttpResponseBase


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

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
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


# --- The API fast path ------------------------------------------------------------------------
#
# Sessions, CSRF, the user middleware and messages serve the admin and the sign-in pages (a
# browser with a session cookie). A request outside /admin/ and /accounts/ that carries no
# session cookie has no session to load, no form to protect and no message to show: API
# clients authenticate per request (token or secret) and DRF's API views are CSRF-exempt
# unless authenticated by session. Such a request is marked by ApiFastPathMiddleware and the
# four wrappers below pass it straight through; every other request (the admin, the sign-in
# pages, or any path with a session cookie, e.g. the Swagger UI of a logged-in operator) gets
# the full middleware. See docs/decisions/0007-api-fast-path.md.

from django.contrib.auth.middleware import (  # noqa: E402
    AuthenticationMiddleware as DjangoAuthenticationMiddleware,
)
from django.contrib.auth.models import AnonymousUser  # noqa: E402
from django.contrib.messages.middleware import (  # noqa: E402
    MessageMiddleware as DjangoMessageMiddleware,
)
from django.contrib.sessions.middleware import (  # noqa: E402
    SessionMiddleware as DjangoSessionMiddleware,
)
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware  # noqa: E402

FAST_PATH_ATTRIBUTE = "api_fast_path"
# Browser pages: the admin, and the sign-in pages of django-allauth (they need a session from the
# first request on, before any cookie is set).
BROWSER_PREFIXES = ("/admin/", "/accounts/")


def is_api_fast_path(request: HttpRequest) -> bool:
    return getattr(request, FAST_PATH_ATTRIBUTE, False)


class ApiFastPathMiddleware:
    """Mark requests that need none of the browser middleware (see the comment above)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.cookie_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.cookie_name not in request.COOKIES and not request.path_info.startswith(
            BROWSER_PREFIXES
        ):
            setattr(request, FAST_PATH_ATTRIBUTE, True)
            # What AuthenticationMiddleware would have given a request without a session.
            request.user = AnonymousUser()
        return self.get_response(request)


# What the next layer gives back (Django runs sync and async middleware chains).
MiddlewareAnswer = HttpResponseBase | Awaitable[HttpResponseBase]


class SessionMiddleware(DjangoSessionMiddleware):
    def __call__(self, request: HttpRequest) -> MiddlewareAnswer:
        if is_api_fast_path(request):
            return self.get_response(request)
        return super().__call__(request)


class CsrfViewMiddleware(DjangoCsrfViewMiddleware):
    def __call__(self, request: HttpRequest) -> MiddlewareAnswer:
        if is_api_fast_path(request):
            return self.get_response(request)
        return super().__call__(request)

    def process_view(
        self,
        request: HttpRequest,
        callback: Callable[..., Any],
        callback_args: tuple[Any, ...],
        callback_kwargs: dict[str, Any],
    ) -> HttpResponseForbidden | None:
        if is_api_fast_path(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AuthenticationMiddleware(DjangoAuthenticationMiddleware):
    def __call__(self, request: HttpRequest) -> MiddlewareAnswer:
        if is_api_fast_path(request):
            return self.get_response(request)
        return super().__call__(request)


class MessageMiddleware(DjangoMessageMiddleware):
    def __call__(self, request: HttpRequest) -> MiddlewareAnswer:
        if is_api_fast_path(request):
            return self.get_response(request)
        return super().__call__(request)
