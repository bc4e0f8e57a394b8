"""The WSGI fast path: a few hot write endpoints answered before Django's handler runs
(docs/decisions/0073-wsgi-fast-path.md).

An ingest request that is well formed and succeeds costs, through Django's handler, its
middleware and DRF, about twice what its own work costs. ``FastPathApplication`` wraps the
WSGI application; for a route listed in ``settings.FAST_PATH_ROUTES`` it hands the request to
the route's handler first, which either

- answers the success itself (``FastAnswer``), with exactly the status, body and headers the
  full stack would have sent (the tests compare the two byte for byte), or
- returns ``None`` having done nothing: the full stack serves the request as if the fast path
  did not exist (a bad body, a missing key, anything unusual), or
- returns a ``Handover`` having done part of the work: the full stack serves the request, and
  its view reads what was decided (``fast_path_outcome``) instead of doing it again, so nothing
  is counted or stored twice and every error keeps its one rendering, the view's.

What the fast path stands in for, and how each is kept:

- the middleware (``FAST_PATH_MIDDLEWARE``; any other ``MIDDLEWARE`` list turns the fast path
  off): the security headers are written from the same settings; the request is only taken when
  no middleware would answer it (its host allowed, no HTTPS redirect due, a body of a known
  length within the limit, no query string, no session cookie);
- DRF's content negotiation and parser: only a JSON body (UTF-8) with an ``Accept`` the JSON
  renderer answers is taken, parsed by the same function as the parser (``json_loads``);
- Django's handler: the script prefix is set from the request, and ``request_started`` and
  ``request_finished`` are sent as it sends them (the database connection goes back to the pool
  at the end).
"""

import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from http import HTTPStatus
from typing import Any, cast

from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import get_script_name
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host
from django.urls import get_resolver, set_script_prefix
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# The middleware whose effect on a fast request the fast path reproduces (see the docstring).
FAST_PATH_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
    "core.middleware.ApiFastPathMiddleware",
    "core.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.CsrfViewMiddleware",
    "core.middleware.AuthenticationMiddleware",
    "core.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.outages.OutageMiddleware",
)
# What a POST-only DRF view's answers carry besides the middleware's headers (DRF's Vary and
# Allow): every fast route's view is one.
POST_VIEW_HEADERS = (("Vary", "Accept"), ("Allow", "POST, OPTIONS"))
HANDOVER_KEY = "platform.fast_path.outcome"  # the environ key a Handover travels in
# Larger bodies (batches) go to the full stack unread: their cost is in their items.
FAST_PATH_MAX_BODY_BYTES = 65_536
_JSON_TYPES = ("application/json", "application/json;charset=utf-8")
_JSON_ACCEPTS = ("", "*/*", "application/json", "application/*")

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApplication = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]


@dataclass(frozen=True, slots=True)
class FastRequest:
    environ: WSGIEnviron
    body: bytes

    def header(self, name: str) -> str | None:
        """A request header by its WSGI name (``HTTP_X_API_KEY``)."""
        return self.environ.get(name)

    def absolute_uri(self, path: str) -> str:
        """``HttpRequest.build_absolute_uri(path)`` (the host was checked when taken)."""
        scheme = "https" if _secure(self.environ) else "http"
        return f"{scheme}://{self.environ['HTTP_HOST']}{path}"


@dataclass(frozen=True, slots=True)
class FastAnswer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()  # the view's own (Allow, Vary), not middleware's
    content_type: str | None = "application/json"  # None: no Content-Type header


@dataclass(frozen=True, slots=True)
class Handover:
    """What the fast path decided, for the full stack's view to use rather than redo: a value,
    or an exception the view raises as its own (so it is answered as the view's would be)."""

    outcome: object


FastHandler = Callable[[FastRequest], FastAnswer | Handover | None]


def fast_path_outcome(request: HttpRequest) -> object | None:
    """What the fast path decided for ``request`` before handing it over, if anything.

    An exception the fast path met is raised here, in the view, as if the view had met it.
    """
    outcome: object = request.META.pop(HANDOVER_KEY, None)
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


class FastPathApplication:
    """The WSGI application: the fast path's routes first, Django's handler for the rest."""

    def __init__(self, application: WSGIApplication) -> None:
        self.application = application
        self._routes: dict[tuple[str, str], FastHandler] | None = None

    def routes(self) -> dict[tuple[str, str], FastHandler]:
        """(method, path) -> handler, built at the first request (the URLconf is loaded by
        then); empty when the fast path is off or the middleware is not the one it knows."""
        if self._routes is None:
            self._routes = {}
            if not settings.FAST_PATH_ENABLED:
                pass
            elif tuple(settings.MIDDLEWARE) != FAST_PATH_MIDDLEWARE:
                logger.warning("fast path off: MIDDLEWARE is not the list it was written for")
            else:
                resolver = get_resolver()
                for route in settings.FAST_PATH_ROUTES:
                    method, url_name, handler = str(route[0]), str(route[1]), str(route[2])
                    kwargs = cast(dict[str, str], route[3]) if len(route) > 3 else {}
                    path = "/" + resolver.reverse(url_name, **kwargs)  # PATH_INFO: no prefix
                    self._routes[(method, path)] = import_string(handler)
        return self._routes

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        routes = self._routes if self._routes is not None else self.routes()
        handler = routes.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
        if handler is not None:
            request = _request_taken(environ)
            if request is not None:
                answer = _handle(handler, request)
                if isinstance(answer, FastAnswer):
                    start_response(_status_line(answer.status), _headers(environ, answer))
                    return [answer.body]
                if isinstance(answer, Handover):
                    environ[HANDOVER_KEY] = answer.outcome
        return self.application(environ, start_response)


def _handle(handler: FastHandler, request: FastRequest) -> FastAnswer | Handover | None:
    """Run ``handler`` between the signals Django's handler sends around a request. An
    exception it raises goes to the full stack's view (``fast_path_outcome``) to be answered
    there, once, as every other error of that view is."""
    set_script_prefix(get_script_name(request.environ))  # for reverse(), as Django's handler
    signals.request_started.send(sender=FastPathApplication, environ=request.environ)
    try:
        return handler(request)
    except Exception as exc:
        return Handover(exc)
    finally:
        signals.request_finished.send(sender=FastPathApplication)


def _request_taken(environ: WSGIEnviron) -> FastRequest | None:
    """The request with its body read, if no middleware would answer it before the view and
    DRF would parse it as JSON (a GET: has no body and takes a JSON answer); else None (its
    body unread). Once read, the body is put back for the full stack to read again."""
    if environ.get("QUERY_STRING"):
        return None
    if environ.get("REQUEST_METHOD") == "GET":
        return _get_taken(environ)
    if not _json_in_and_out(environ):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 < length <= min(FAST_PATH_MAX_BODY_BYTES, settings.API_MAX_BODY_BYTES):
        return None
    if not _no_middleware_answers(environ):
        return None
    try:
        body = environ["wsgi.input"].read(length)
    except OSError:  # the client went away mid-body: the full stack answers what it can
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return FastRequest(environ=environ, body=body) if len(body) == length else None


def _get_taken(environ: WSGIEnviron) -> FastRequest | None:
    if environ.get("CONTENT_LENGTH") not in (None, "", "0") or not _answer_is_json(environ):
        return None
    return FastRequest(environ=environ, body=b"") if _no_middleware_answers(environ) else None


def _no_middleware_answers(environ: WSGIEnviron) -> bool:
    """No session to load, the host allowed and no HTTPS redirect due."""
    if settings.SESSION_COOKIE_NAME in environ.get("HTTP_COOKIE", ""):
        return False
    return _host_allowed(environ) and not (settings.SECURE_SSL_REDIRECT and not _secure(environ))


def _answer_is_json(environ: WSGIEnviron) -> bool:
    return environ.get("HTTP_ACCEPT", "").strip().lower() in _JSON_ACCEPTS


def _json_in_and_out(environ: WSGIEnviron) -> bool:
    content_type = environ.get("CONTENT_TYPE", "").lower().replace(" ", "")
    return content_type in _JSON_TYPES and _answer_is_json(environ)


def _host_allowed(environ: WSGIEnviron) -> bool:
    """Django's ``get_host`` check, for the one way the platform reads the host."""
    host = environ.get("HTTP_HOST")
    if settings.USE_X_FORWARDED_HOST or not host:
        return False
    return _host_valid(host, tuple(settings.ALLOWED_HOSTS))


@lru_cache(maxsize=256)
def _host_valid(host: str, allowed_hosts: tuple[str, ...]) -> bool:
    """``Host`` header -> whether Django would accept it: a pure function of the two, and a
    server sees few distinct hosts, so it is worked out once per pair (its expression and the
    pattern matching were 6% of a webhooks submit's time holding the GIL)."""
    domain, _ = split_domain_port(host)
    return bool(domain) and validate_host(domain, list(allowed_hosts))


def _secure(environ: WSGIEnviron) -> bool:
    """Django's ``HttpRequest.is_secure``."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return str(value).split(",", 1)[0].strip() == secure_value
    return environ.get("wsgi.url_scheme") == "https"


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def _headers(environ: WSGIEnviron, answer: FastAnswer) -> list[tuple[str, str]]:
    """The answer's headers as the renderer, the view and the middleware would have set them."""
    headers = [] if answer.content_type is None else [("Content-Type", answer.content_type)]
    headers.extend(answer.headers)
    headers.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
    headers.append(("Content-Length", str(len(answer.body))))
    headers.extend(_security_headers(environ))
    return headers


def _security_headers(environ: WSGIEnviron) -> list[tuple[str, str]]:
    """``SecurityMiddleware.process_response``, from the same settings."""
    headers = []
    if settings.SECURE_HSTS_SECONDS and _secure(environ):
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append(("Strict-Transport-Security", value))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    policy = settings.SECURE_REFERRER_POLICY
    if policy:
        parts = policy.split(",") if isinstance(policy, str) else policy
        headers.append(("Referrer-Policy", ",".join(part.strip() for part in parts)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    return headers
