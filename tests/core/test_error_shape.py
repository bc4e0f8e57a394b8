"""One error shape everywhere: every route of the URL conf, sent every refusal that applies,
answers the documented status with a body the error serializers accept.

Refusals other than field validation are ``ErrorOutputSerializer`` (``{"code", "detail"}``,
plus any extra fields); field validation is DRF's field-error shape (shared/spec/README.md),
``{"field": ["message"]}``. The routes are read from the URL conf, so a new route is covered
without editing this file.
"""

import json
import uuid

import pytest
from django.conf import settings
from rest_framework import permissions, serializers
from rest_framework.test import APIClient

from core.api.serializers import ErrorOutputSerializer
from tests.routes import api_routes, url_for, view_class, view_methods

pytestmark = pytest.mark.django_db

BODY_METHODS = ("post", "put", "patch")
UNKNOWN = {"int": "987654", "uuid": str(uuid.UUID(int=12345)), "str": "no-such-id"}
# Routes whose path argument names something created on first use, not looked up.
CREATED_ON_USE = {"add-stream/user/<str:user_id>", "api/streams/viewers/<str:user_id>"}
# The mock providers stand in for third parties and answer as those do (an empty 404, a
# text/plain 500 at their failure rate; docs/webhooks.md): not the platform's own refusals.
THIRD_PARTY_STAND_INS = {"providers/<str:name>"}
ROUTES = [(route, cb) for route, cb in api_routes() if not route.startswith("accounts/")]


class FieldErrorsSerializer(serializers.Serializer):
    # DRF's metaclass moves declared fields off the class, so this name shadows nothing at
    # run time; the stubs see a class attribute overriding Serializer.errors.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField(), min_length=1), allow_empty=False
    )


def _error(response, what: str, status: tuple[int, ...], code: str | None = None) -> dict:
    assert response.status_code in status, (what, response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), what
    body = json.loads(response.content)
    checked = ErrorOutputSerializer(data=body)
    assert checked.is_valid(), (what, body, checked.errors)
    if code is not None:
        assert body["code"] == code, (what, body)
    return body


def _field_errors(response, what: str) -> None:
    assert response.status_code == 400, (what, response.status_code, response.content[:300])
    body = json.loads(response.content)
    checked = FieldErrorsSerializer(data={"errors": body})
    assert checked.is_valid(), (what, body, checked.errors)


def _needs_credentials(view) -> bool:
    return not all(issubclass(p, permissions.AllowAny) for p in view.permission_classes)


def _authenticated(view, operator_client) -> APIClient:
    """A client whose credentials the route accepts (none for an open route)."""
    names = {cls.__name__ for cls in view.authentication_classes}
    if "IngestionSecretAuthentication" in names:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=settings.INGESTION_SECRETS[0])
        return client
    if "ApiKeyAuthentication" in names:
        from django.contrib.auth import get_user_model

        from analytics.services import app_register

        owner = get_user_model().objects.create_user("shape-owner", password=None)
        _, issued = app_register(owner=owner, name="shape", domain="https://example.com")
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=issued.raw)
        return client
    return operator_client if _needs_credentials(view) else APIClient()


def _send(client, method: str, url: str, body: bytes | None = None, **kwargs):
    if body is None:
        return getattr(client, method)(url, **kwargs)
    kwargs.setdefault("content_type", "application/json")
    return client.generic(method.upper(), url, data=body, **kwargs)


def _refuse_credentials(view, methods: list[str], url: str) -> None:
    if not _needs_credentials(view):
        return
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Token not-a-token", HTTP_X_API_KEY="nope")
    for method in methods:
        _error(_send(APIClient(), method, url), f"{method} {url} anonymous", (401, 403))
        _error(_send(stranger, method, url), f"{method} {url} bad credentials", (401, 403))


def _refuse_size_and_method(client, methods: list[str], url: str) -> None:
    for method in methods:
        too_large = _send(client, method, url, b'{"pad": "' + b"x" * 100 + b'"}')
        _error(too_large, f"{method} {url} too large", (413,), "request_too_large")
    for method in {"get", "post", "put", "patch", "delete"} - set(methods):
        _error(_send(client, method, url), f"{method} {url}", (405,), "method_not_allowed")


def _refuse_bodies(client, view, route: str, methods: list[str], url: str) -> None:
    # A route that names a resource may look it up before it reads the body: its 404 then comes
    # first, in the same shape. A route that takes no JSON (a file upload) answers 415 to JSON.
    takes_json = any(p.media_type == "application/json" for p in view.parser_classes)
    names_resource = "<" in route
    for method in (m for m in methods if m in BODY_METHODS):
        malformed = _send(client, method, url, b'{"a": ')
        if not takes_json:
            _error(malformed, f"{method} {url} JSON", (415,), "unsupported_media_type")
        elif names_resource:
            _error(malformed, f"{method} {url} malformed", (400, 404))
        else:
            _error(malformed, f"{method} {url} malformed", (400,), "parse_error")
        wrong_type = _send(client, method, url, b"a", content_type="text/plain")
        code = None if names_resource else "unsupported_media_type"
        _error(wrong_type, f"{method} {url} text/plain", (415, 404), code)
        if names_resource:
            continue
        invalid = (
            _send(client, method, url, b'{"guard_unknown": [1]}')
            if takes_json
            else getattr(client, method)(url, {"guard_unknown": "1"}, format="multipart")
        )
        _field_errors(invalid, f"{method} {url} invalid")


def _refuse_unknown_id(client, route: str, methods: list[str]) -> None:
    if "<" not in route or route in CREATED_ON_USE | THIRD_PARTY_STAND_INS:
        return
    unknown = url_for(route, UNKNOWN)
    for method in methods:
        body = b"{}" if method in BODY_METHODS else None
        _error(_send(client, method, unknown, body), f"{method} {unknown}", (404,))


def _refuse_over_the_rate(client, view, methods: list[str], url: str, settings) -> None:
    if not view.throttle_classes:
        return
    for throttle in view.throttle_classes:
        setattr(settings, throttle.rate_setting, 1)
    method = methods[0]
    body = b"{}" if method in BODY_METHODS else None
    _send(client, method, url, body)
    throttled = _send(client, method, url, body)
    _error(throttled, f"{method} {url} twice", (429,), "throttled")
    assert 1 <= int(throttled["Retry-After"]) <= 60


@pytest.mark.parametrize(("route", "callback"), ROUTES, ids=[route for route, _ in ROUTES])
def test_every_refusal_of_every_route_has_the_one_error_shape(
    route, callback, operator_client, settings
):
    settings.API_MAX_BODY_BYTES = 64
    view = view_class(callback)
    methods = view_methods(callback)
    url = url_for(route, {})
    client = _authenticated(view, operator_client)

    _refuse_credentials(view, methods, url)
    _refuse_size_and_method(client, methods, url)
    _refuse_bodies(client, view, route, methods, url)
    _refuse_unknown_id(client, route, methods)
    _refuse_over_the_rate(client, view, methods, url, settings)
