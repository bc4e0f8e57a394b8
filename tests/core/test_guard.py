"""Every route of the URL conf answers bad input with a 4xx JSON error, never a 5xx or HTML.

The routes are read from ``get_resolver()`` when the tests are collected, so a route added
later (any domain) is guarded without anyone editing this file. Each route gets, with every
method it takes a body on (POST for the read-only ones: their 405 must be JSON too), and with
each credential the platform knows (operator token, ingestion secret, none): a body that is
empty, malformed, nested 10,000 deep, 1 byte over the limit, or carrying NUL; and a NUL in its
path and its query string.

The owners' sign-in pages (django-allauth, under /accounts/) are HTML pages for people, not API
answers: with sign-in with Google off (the suite's settings) they answer the JSON 404 like any
unrouted path, and the routes above check that; with it on, the same bad input must get an
answer below 500 (a page, a redirect, a 4xx), never a server error, and a NUL in the URL the
JSON 400 every route gives.
"""

import json
import re

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.routes import api_routes, url_for, view_methods

pytestmark = pytest.mark.django_db

BODY_METHODS = ("post", "put", "patch", "delete")
LIMIT_BYTES = 2048
UPLOAD_LIMIT_BYTES = 4096
MULTIPART_FRAME = (b"--guard\r\n", b"\r\n--guard--\r\n")
NUL_ARGUMENT = {"str": "a%00b", "slug": "a%00b", "path": "a%00b"}
_url = url_for


def _methods(callback) -> list[str]:
    methods = [m for m in view_methods(callback) if m in BODY_METHODS]
    return methods or ["post"]


ROUTES = api_routes()

BODIES = {
    "empty": ("application/json", b""),
    "malformed": ("application/json", b'{"userId": "a", '),
    "nested 10,000 deep": ("application/json", b"[" * 10_000 + b"]" * 10_000),
    "1 byte over the JSON limit": ("application/json", b'"' + b"x" * (LIMIT_BYTES - 1) + b'"'),
    "1 byte over the upload limit": (
        "multipart/form-data; boundary=guard",
        MULTIPART_FRAME[0]
        + b"x" * (UPLOAD_LIMIT_BYTES + 1 - sum(map(len, MULTIPART_FRAME)))
        + MULTIPART_FRAME[1],
    ),
    "NUL in a string": (
        "application/json",
        b'{"userId": "a\\u0000b", "user_id": "a\\u0000b", "name": "add_revenue", "value": 1}',
    ),
    "NUL in an array": ("application/json", b'[{"userId": "\\u0000", "value": 1}]'),
}


@pytest.fixture(params=["operator token", "ingestion secret", "analytics key", "no credentials"])
def client(request) -> APIClient:
    if request.param == "operator token":
        return request.getfixturevalue("operator_client")
    client = APIClient()
    if request.param == "analytics key":
        from django.contrib.auth import get_user_model

        from analytics.services import app_register

        owner = get_user_model().objects.create_user("guard-owner", password=None)
        _, issued = app_register(owner=owner, name="guard", domain="https://example.com")
        client.credentials(HTTP_X_API_KEY=issued.raw)
    if request.param == "ingestion secret":
        client.credentials(HTTP_AUTHORIZATION=settings.INGESTION_SECRETS[0])
    return client


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.API_MAX_BODY_BYTES = LIMIT_BYTES
    settings.API_MAX_UPLOAD_BYTES = UPLOAD_LIMIT_BYTES


def assert_json_error(response, what: str) -> None:
    assert 400 <= response.status_code < 500, (what, response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), (what, response["Content-Type"])
    body = json.loads(response.content)
    field_errors = (
        isinstance(body, dict) and body and all(isinstance(v, list) for v in body.values())
    )
    error = isinstance(body, dict) and isinstance(body.get("code"), str) and "detail" in body
    assert field_errors or error, (what, body)


def test_the_guard_sees_every_domain():
    urls = {route for route, _ in ROUTES}
    assert {"liveEvent", "api/royalties/runs", "api/streams/sessions", "healthz"} <= urls
    assert {"accounts/google/login/", "accounts/google/login/callback/"} <= urls


@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize(("route", "callback"), ROUTES, ids=[route for route, _ in ROUTES])
def test_bad_bodies_get_a_4xx_json_error(client, route, callback, body):
    content_type, data = BODIES[body]
    if body == "1 byte over the JSON limit":
        assert len(data) == settings.API_MAX_BODY_BYTES + 1
    if body == "1 byte over the upload limit":
        assert len(data) == settings.API_MAX_UPLOAD_BYTES + 1
    url = _url(route, {})
    for method in _methods(callback):
        response = getattr(client, method)(url, data=data, content_type=content_type)
        assert_json_error(response, f"{method.upper()} {url} with a {body} body")


@pytest.mark.parametrize(("route", "callback"), ROUTES, ids=[route for route, _ in ROUTES])
def test_nul_in_the_path_or_query_gets_a_4xx_json_error(client, route, callback):
    urls = [_url(route, {}) + "?q=a%00b"]
    if re.search(r"<(?:str:|slug:|path:)?\w+>", route):
        urls.append(_url(route, NUL_ARGUMENT))
    for url in urls:
        for method in ["get", *_methods(callback)]:
            response = getattr(client, method)(url)
            assert_json_error(response, f"{method.upper()} {url}")
            assert response.status_code == 400, (method, url, response.status_code)


@pytest.mark.parametrize(
    "url",
    [
        "/api/royalties/runs/abc",
        "/api/streams/sessions/not-a-uuid/heartbeat",
        "/api/streams/sessions/not-a-uuid",
        "/api/nothing/here",
        "/userEvents/",
        "/add-stream/user/",
        "/users/a/b",
    ],
)
@pytest.mark.parametrize("debug", [False, True])
def test_unmatched_api_and_compat_paths_are_json_404(operator_client, settings, url, debug):
    settings.DEBUG = debug  # Django renders an HTML 404 page with DEBUG on unless routed
    for method in ("get", "post", "put", "delete"):
        response = getattr(operator_client, method)(url)
        assert response.status_code == 404, (method, url)
        assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_a_path_a_slash_would_match_still_redirects(admin_client):
    response = admin_client.get("/admin")
    assert (response.status_code, response["Location"]) == (301, "/admin/")


SIGN_IN_ROUTES = [(route, cb) for route, cb in ROUTES if route.startswith("accounts/")]


@pytest.fixture(params=["anonymous", "signed-in owner"])
def browser(request, settings):
    from django.test import Client

    client = Client()
    settings.GOOGLE_CLIENT_ID = "guard.apps.googleusercontent.com"
    settings.GOOGLE_CLIENT_SECRET = "guard-secret"
    settings.ANALYTICS_OPEN_SIGNUP = True
    if request.param == "signed-in owner":
        from django.contrib.auth import get_user_model

        client.force_login(get_user_model().objects.create_user("guard-browser", password=None))
    return client


@pytest.mark.parametrize(
    ("route", "callback"), SIGN_IN_ROUTES, ids=[route for route, _ in SIGN_IN_ROUTES]
)
def test_sign_in_pages_never_fail_on_bad_input(browser, route, callback):
    url = _url(route, {})
    page = browser.get(url)
    assert page.status_code < 500
    if route == "accounts/login/":
        # Live pages, not the 404 of sign-in turned off (a signed-in owner is sent to the token).
        assert page.status_code in (200, 302)
    for method in BODY_METHODS:
        for body, (content_type, data) in BODIES.items():
            response = getattr(browser, method)(url, data=data, content_type=content_type)
            assert response.status_code < 500, (method, url, body, response.status_code)
    for method in ("get", *BODY_METHODS):
        response = getattr(browser, method)(url + "?q=a%00b")
        assert_json_error(response, f"{method.upper()} {url} with NUL in the query")
        assert response.status_code == 400
