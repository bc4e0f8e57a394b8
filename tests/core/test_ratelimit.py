"""The fixed-window limiter (core.ratelimit) and its DRF throttle, on both stores."""

import pytest
from django.db import connection
from django.test import override_settings

from core import ratelimit
from core.models import RateLimitCounter
from core.ratelimit import ratelimit_hit, ratelimit_prune
from tests.concurrency import run_in_threads

REDIS_TEST_URL = "redis://127.0.0.1:6379/15"
WINDOW_START = 1_800_000_000  # a multiple of 60


@pytest.fixture(params=["database", "redis"])
def store(request, settings, db):
    """Run a test once against the database counter and once against Redis."""
    ratelimit._redis_client.cache_clear()
    if request.param == "redis":
        settings.REDIS_URL = REDIS_TEST_URL
        ratelimit._redis_client().flushdb()
    else:
        settings.REDIS_URL = ""
    yield request.param
    if request.param == "redis":
        ratelimit._redis_client().flushdb()
    ratelimit._redis_client.cache_clear()


def test_the_limit_plus_one_is_refused_with_the_seconds_left(store):
    decisions = [
        ratelimit_hit(key="k", limit=3, window_seconds=60, now=WINDOW_START + 15.5)
        for _ in range(4)
    ]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.count for d in decisions] == [1, 2, 3, 4]
    assert decisions[3].retry_after_seconds == 45  # ceil(60 - 15.5)


def test_a_new_window_starts_from_zero_and_keys_are_separate(store):
    for _ in range(2):
        ratelimit_hit(key="a", limit=1, window_seconds=60, now=WINDOW_START + 59)
    assert ratelimit_hit(key="b", limit=1, window_seconds=60, now=WINDOW_START + 59).allowed
    nxt = ratelimit_hit(key="a", limit=1, window_seconds=60, now=WINDOW_START + 60)
    assert (nxt.allowed, nxt.count) == (True, 1)


def test_the_database_store_writes_one_row_per_key_and_window(store):
    for _ in range(3):
        ratelimit_hit(key="a", limit=5, window_seconds=60, now=WINDOW_START)
    ratelimit_hit(key="a", limit=5, window_seconds=60, now=WINDOW_START + 60)
    rows = list(
        RateLimitCounter.objects.order_by("window_start").values_list("window_start", "count")
    )
    assert rows == ([] if store == "redis" else [(WINDOW_START, 3), (WINDOW_START + 60, 1)])


@pytest.mark.postgres_only
def test_the_postgresql_counters_are_unlogged_so_an_increment_waits_for_no_flush(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relpersistence FROM pg_class WHERE relname = %s",
            [RateLimitCounter._meta.db_table],
        )
        assert cursor.fetchone() == ("u",)


def test_prune_deletes_ended_windows_only(db, settings):
    settings.REDIS_URL = ""
    ratelimit_hit(key="old", limit=5, window_seconds=60, now=WINDOW_START)
    ratelimit_hit(key="new", limit=5, window_seconds=60, now=WINDOW_START + 600)
    from datetime import UTC, datetime

    assert ratelimit_prune(now=datetime.fromtimestamp(WINDOW_START + 300, tz=UTC)) == 1
    assert list(RateLimitCounter.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.urls("tests.core.throttle_urls")
@override_settings(TESTS_PING_RATE=2)
def test_the_throttle_answers_429_with_retry_after_in_the_error_shape(store, api_client):
    statuses = [api_client.get("/ping", HTTP_X_CLIENT="c1").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = api_client.get("/ping", HTTP_X_CLIENT="c1")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["code"] == "throttled"
    assert refused.json()["detail"].startswith("Request was throttled.")
    assert api_client.get("/ping", HTTP_X_CLIENT="c2").status_code == 200
    # get_key returning None: not limited at all.
    assert [api_client.get("/ping").status_code for _ in range(4)] == [200] * 4


@pytest.mark.urls("tests.core.throttle_urls")
@override_settings(TESTS_PING_RATE=0)
def test_a_limit_of_zero_means_unlimited(store, api_client):
    assert [api_client.get("/ping", HTTP_X_CLIENT="c").status_code for _ in range(5)] == [200] * 5


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["database", "redis"])
def test_concurrent_hits_never_let_more_than_the_limit_through(backend, settings):
    """20 threads, each with its own connection, 10 hits each against a limit of 57."""
    ratelimit._redis_client.cache_clear()
    settings.REDIS_URL = REDIS_TEST_URL if backend == "redis" else ""
    if backend == "redis":
        ratelimit._redis_client().flushdb()

    def client(_: int) -> list[bool]:
        hits = [ratelimit_hit(key="storm", limit=57, now=WINDOW_START + 1) for _ in range(10)]
        return [decision.allowed for decision in hits]

    allowed = [allowed for done in run_in_threads(20, client) for allowed in done]
    assert len(allowed) == 200
    assert allowed.count(True) == 57
    if backend == "database":
        assert RateLimitCounter.objects.get(key="storm").count == 200
    else:
        ratelimit._redis_client().flushdb()
    ratelimit._redis_client.cache_clear()


def test_a_throttled_operation_declares_429_with_retry_after_in_the_schema():
    from drf_spectacular.generators import SchemaGenerator

    from tests.core import throttle_urls

    generator = SchemaGenerator(patterns=throttle_urls.urlpatterns)
    schema = generator.get_schema(request=None, public=True)
    refused = schema["paths"]["/ping"]["get"]["responses"]["429"]
    assert refused["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert refused["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOutput"
    }
