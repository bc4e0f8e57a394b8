"""JSON answers for URLs no view matched, so API clients never receive an HTML error page."""

from django.conf import settings
from django.http import HttpRequest, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt

NOT_FOUND_URL_NAME = "not-found"


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)


@csrf_exempt  # no CSRF failure page (HTML) for a POST to a path nothing serves: the 404
def unmatched(request: HttpRequest, path: str = "") -> JsonResponse | HttpResponsePermanentRedirect:
    """The last route: every path nothing else matched, with DEBUG on or off.

    Django renders its HTML debug page for an unmatched URL while DEBUG is true (the
    ``handler404`` only applies with DEBUG off), so the table ends with this catch-all. It
    keeps ``APPEND_SLASH``: a path that a route matches once a slash is appended (``/admin``)
    is redirected there, as ``CommonMiddleware`` did before the catch-all existed.
    """
    if settings.APPEND_SLASH and not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.url_name != NOT_FOUND_URL_NAME:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return not_found(request)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"code": "server_error", "detail": "Internal server error."}, status=500)
