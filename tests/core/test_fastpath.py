"""The WSGI fast path (core.fastpath, decision 0073), through ``config.wsgi.application``: what
it answers is byte for byte what the full stack answers, and what it hands over is done once.

Each request is sent twice, to the fast path's application and to Django's own beneath it,
over the same database, and the two answers compared. The tests are transactional: both
applications send ``request_started``/``request_finished``, which close the connection.
"""

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import OperationalError, connection
from django.urls import resolve, set_script_prefix
from django.utils import timezone

from analytics.api import fast
from analytics.api.collect import CollectView
from analytics.models import ApiKey, Event
from config.wsgi import application, django_application
from core.fastpath import FAST_PATH_MIDDLEWARE, FastPathApplication
from core.models import RateLimitCounter
from ingestion.api import fast as ingestion_fast
from ingestion.api.views import LiveEventView
from tests.analytics.factories import registered_app
from tests.wsgi import COLLECT, call
from webhooks.api import fast as webhooks_fast
from webhooks.api.views import CollectionCreateView, CompatWebhookView, MockProviderView

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def key() -> str:
    _, raw = registered_app()
    return raw


def test_one_event_is_answered_by_the_fast_path_exactly_as_by_the_full_stack(key, taken):
    fast_answer = call(application, key=key)
    assert taken == [202]
    full_answer = call(django_application, key=key)
    assert fast_answer == full_answer
    assert fast_answer.status == "202 Accepted"
    assert fast_answer.body == b'{"accepted":1}'
    assert fast_answer.headers == {
        "Content-Type": "application/json",
        "Vary": "Accept",
        "Allow": "POST, OPTIONS",
        "X-Frame-Options": "DENY",
        "Content-Length": "14",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    assert Event.objects.count() == 2


def test_behind_a_tls_proxy_with_hsts_the_headers_are_the_full_stacks(key, taken, settings):
    """Django's middleware reads its settings once: both applications are built anew."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SECURE_REFERRER_POLICY = "no-referrer, strict-origin"
    settings.X_FRAME_OPTIONS = "sameorigin"
    secure: dict[str, Any] = {"HTTP_X_FORWARDED_PROTO": "https"}
    full = get_wsgi_application()
    fast_answer = call(FastPathApplication(full), key=key, **secure)
    assert taken == [202]
    assert fast_answer == call(full, key=key, **secure)
    assert fast_answer.headers["Strict-Transport-Security"] == (
        "max-age=3600; includeSubDomains; preload"
    )
    assert fast_answer.headers["Referrer-Policy"] == "no-referrer,strict-origin"
    assert fast_answer.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_https_redirect_due_is_left_to_the_full_stack(key, taken, settings):
    settings.SECURE_SSL_REDIRECT = True
    answer = call(FastPathApplication(get_wsgi_application()), key=key)
    assert taken == []
    assert answer.status == "301 Moved Permanently"
    assert answer.headers["Location"] == "https://testserver/api/analytics/collect"
    assert Event.objects.count() == 0


UNTOUCHED: dict[str, dict[str, Any]] = {
    "no key": {},
    "a key unknown": {"key": "ak_0123456789ab_not-a-key-at-all"},
    "malformed JSON": {"body": b'{"event": '},
    "an invalid event": {"body": b'{"event": ""}'},
    "a batch": {"body": b'[{"event": "a"}, {"event": ""}]'},
    "not JSON": {"CONTENT_TYPE": "text/plain"},
    "another charset": {"CONTENT_TYPE": "application/json; charset=latin-1"},
    "an Accept not JSON": {"HTTP_ACCEPT": "application/xml"},
    "a host not allowed": {"HTTP_HOST": "evil.example"},
    "a query string": {"QUERY_STRING": "x=%00"},
    "a session cookie": {"HTTP_COOKIE": "sessionid=abc"},
    "an empty body": {"body": b""},
}


@pytest.mark.parametrize("case", list(UNTOUCHED), ids=list(UNTOUCHED))
def test_what_the_fast_path_does_not_take_is_answered_as_before(case, key, taken):
    """Each answered by the full stack alone (the fast path admitted nothing): the same
    answer as Django's application gives, and the request counted once by the limiter."""
    request = {"key": key, **UNTOUCHED[case]}
    if case == "no key":
        del request["key"]
    fast_answer = call(application, **request)
    assert taken == []
    full_answer = call(django_application, **request)
    assert fast_answer == full_answer
    assert fast_answer.status.split()[0] in {"202", "400", "401", "415", "406"}
    counted = sum(RateLimitCounter.objects.values_list("count", flat=True))
    assert counted in {0, 2}  # never a request counted twice


def test_a_host_taken_once_is_refused_after_allowed_hosts_changes(key, taken, settings):
    """The host's verdict is worked out once per (host, ALLOWED_HOSTS): a changed setting is
    read at the next request."""
    settings.ALLOWED_HOSTS = ["api.example"]
    assert call(application, key=key, HTTP_HOST="api.example").status == "202 Accepted"
    assert taken == [202]
    settings.ALLOWED_HOSTS = ["other.example"]
    answer = call(application, key=key, HTTP_HOST="api.example")
    assert taken == [202]  # not taken: the full stack refused the host
    assert answer == call(django_application, key=key, HTTP_HOST="api.example")
    assert answer.status == "400 Bad Request"


def test_a_revoked_key_is_refused_once_by_the_views_own_answer(key, taken):
    assert call(application, key=key).status == "202 Accepted"  # the process knows the key
    ApiKey.objects.update(revoked_at=timezone.now() - timedelta(seconds=1))
    fast_answer = call(application, key=key)
    assert taken == [202]  # the refusal was the view's to answer
    assert fast_answer == call(django_application, key=key)
    assert fast_answer.status == "401 Unauthorized"
    assert fast_answer.headers["WWW-Authenticate"] == 'ApiKey realm="analytics"'
    assert Event.objects.count() == 1


@pytest.mark.usefixtures("one_window")
def test_over_the_limit_the_views_429_and_each_request_counted_once(key, taken, settings):
    settings.ANALYTICS_COLLECT_RATE = 2
    statuses = [call(application, key=key).status.split()[0] for _ in range(4)]
    assert statuses == ["202", "202", "429", "429"]
    assert taken == [202, 202]
    answer = call(application, key=key)
    assert answer.headers["Retry-After"].isdigit()
    assert answer.body.startswith(b'{"detail":"Request was throttled.')
    assert RateLimitCounter.objects.get().count == 5
    assert Event.objects.count() == 2


def test_an_outage_met_on_the_fast_path_is_the_views_503_and_admits_nothing_twice(
    key, taken, monkeypatch
):
    calls: list[int] = []

    def locked(**_):
        calls.append(1)
        raise OperationalError("database is locked")

    monkeypatch.setattr(fast, "collect_admit", locked)
    answer = call(application, key=key)
    assert taken == []
    assert answer.status == "503 Service Unavailable"
    assert answer.headers["Retry-After"] == "5"
    assert b'"code": "service_unavailable"' in answer.body
    assert calls == [1]
    assert Event.objects.count() == 0
    assert not RateLimitCounter.objects.exists()


def test_a_body_over_the_limit_is_refused_before_it_is_read(key, taken, settings):
    settings.API_MAX_BODY_BYTES = 20
    full = get_wsgi_application()
    answer = call(FastPathApplication(full), key=key)
    assert taken == []
    assert answer.status == "413 Content Too Large"
    assert answer == call(full, key=key)


def test_a_fast_request_is_framed_by_djangos_request_signals(key):
    seen: list[str] = []

    def started(**_):
        seen.append("started")

    def finished(**_):
        seen.append("finished")

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        assert call(application, key=key).status == "202 Accepted"
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert seen == ["started", "finished"]


def test_the_routes_are_the_views_they_stand_in_for():
    routes = FastPathApplication(django_application).routes()
    assert routes == {
        ("POST", COLLECT): fast.collect,
        ("POST", "/liveEvent"): ingestion_fast.live_event,
        ("POST", "/webhook"): webhooks_fast.collection_create_fast,
        ("POST", "/api/webhooks/collections"): webhooks_fast.collection_create_fast,
        ("GET", "/providers/gas"): webhooks_fast.mock_provider_fast,
        ("GET", "/providers/internet"): webhooks_fast.mock_provider_fast,
    }
    views = {path: getattr(resolve(path).func, "view_class", None) for _, path in routes}
    assert views == {
        COLLECT: CollectView,
        "/liveEvent": LiveEventView,
        "/webhook": CompatWebhookView,
        "/api/webhooks/collections": CollectionCreateView,
        "/providers/gas": MockProviderView,
        "/providers/internet": MockProviderView,
    }


def test_the_middleware_is_the_list_the_fast_path_reproduces(settings):
    """Changing MIDDLEWARE means reviewing what core.fastpath writes in its stead."""
    assert tuple(settings.MIDDLEWARE) == FAST_PATH_MIDDLEWARE


def test_any_other_middleware_or_the_switch_turns_the_fast_path_off(settings, caplog):
    settings.FAST_PATH_ENABLED = False
    assert FastPathApplication(django_application).routes() == {}
    settings.FAST_PATH_ENABLED = True
    settings.MIDDLEWARE = [*FAST_PATH_MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    with caplog.at_level(logging.WARNING, logger="core.fastpath"):
        assert FastPathApplication(django_application).routes() == {}
    assert "fast path off" in caplog.text


def test_a_fast_collect_is_one_statement_and_the_batchers_check(key, django_assert_num_queries):
    """After the key is known to the process: one statement (the key live, the request
    counted, the event stored), then the batcher's check after commit (the in-flight lock in
    the cache, the pending count), as on the full stack. SQLite: the key live, then the counter
    and the insert each in its own ``BEGIN IMMEDIATE`` transaction."""
    assert call(application, key=key).status == "202 Accepted"
    with django_assert_num_queries(3 if connection.vendor == "postgresql" else 9):
        assert call(application, key=key).status == "202 Accepted"


def test_a_body_that_cannot_be_read_is_left_to_the_full_stack(key, taken):
    class Gone:
        def read(self, *_: object) -> bytes:
            raise OSError("connection reset by peer")

    unreadable: dict[str, Any] = {"wsgi.input": Gone()}
    answer = call(application, key=key, **unreadable)
    assert taken == []
    assert answer.status.split()[0] == "400"
    assert Event.objects.count() == 0


def test_the_routes_are_paths_without_the_script_prefix_whoever_built_them():
    set_script_prefix("/platform/")
    try:
        routes = FastPathApplication(django_application).routes()
    finally:
        set_script_prefix("/")
    assert ("POST", COLLECT) in routes
