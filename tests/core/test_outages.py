"""A store the request needs, unavailable for the moment: a 503 ``service_unavailable`` with
``Retry-After`` in the one error shape, never a 500, from the API and the admin alike, and the
next request served once the store is back (decision 0071). Each failure here is real: a
PostgreSQL connection terminated by the server, SQLite's write lock held by another connection,
Redis on a port nothing listens on.
"""

import sqlite3
import uuid

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
from django.db.utils import OperationalError
from drf_spectacular.generators import SchemaGenerator

from analytics.models import Event
from core import ratelimit
from core.outages import RETRY_AFTER_UNAVAILABLE_SECONDS, service_unavailable
from tests.analytics.factories import registered_app
from webhooks.models import CollectionRequest

UNKNOWN_COLLECTION = f"/api/webhooks/collections/{uuid.UUID(int=7)}"
WEBHOOK = {"provider": "gas", "callbackUrl": "http://127.0.0.1:9/in"}


def _assert_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert response.json() == {
        "code": "service_unavailable",
        "detail": "The service is unavailable for the moment (its database or cache did not "
        "answer): retry after Retry-After seconds.",
    }
    assert response["Retry-After"] == str(RETRY_AFTER_UNAVAILABLE_SECONDS)


def _terminate_every_connection(database_url: str) -> None:
    """What a restart of the server does to every connection a process holds."""
    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def server_restart(test_database_url):
    """Terminates this test database's connections when called; afterwards, whatever the test
    reached, this process keeps no broken connection for the next test."""
    yield lambda: _terminate_every_connection(test_database_url)
    connection.close()  # given back to the pool, which discards it if broken
    connection.pool.check()  # type: ignore[attr-defined]  # PostgreSQL with a pool only


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_terminated_answers_503_then_the_next_request_is_served(
    api_client, server_restart, caplog
):
    assert api_client.get(UNKNOWN_COLLECTION).status_code == 404  # the connection is open
    pool = connection.pool  # type: ignore[attr-defined]  # PostgreSQL with a pool only
    with pool.connection():
        pass  # and one idle in the pool at least, as a web process keeps between requests
    lost = pool.get_stats().get("connections_lost", 0)
    server_restart()

    _assert_unavailable(api_client.get(UNKNOWN_COLLECTION))
    assert "service unavailable: OperationalError" in caplog.text
    # The idle connections were tested then and the broken ones replaced: the next one handed
    # out works (without the check, a broken one would be).
    assert pool.get_stats().get("connections_lost", 0) > lost
    with pool.connection() as pooled:
        assert pooled.execute("SELECT 1").fetchone() == (1,)
    # What the server does when a request ends (request_finished), which the test client
    # leaves out: the broken connection goes, the next request takes a new one.
    connection.close_if_unusable_or_obsolete()
    assert api_client.get(UNKNOWN_COLLECTION).status_code == 404


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_admin_page_whose_connection_was_lost_answers_503_then_the_page(
    admin_client, server_restart
):
    page = "/admin/webhooks/collectionrequest/"
    assert admin_client.get(page).status_code == 200
    server_restart()

    _assert_unavailable(admin_client.get(page))
    connection.close_if_unusable_or_obsolete()  # as at the end of a served request
    assert admin_client.get(page).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_sqlite_s_write_lock_held_too_long_answers_503_and_stores_nothing(api_client, settings):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's database lock")
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = True  # no name to resolve
    other = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 100")  # instead of 30 s, for the test
    try:
        other.execute("BEGIN IMMEDIATE")  # another process writing, and holding on
        _assert_unavailable(api_client.post("/webhook", WEBHOOK, format="json"))
        other.execute("ROLLBACK")
        assert api_client.post("/webhook", WEBHOOK, format="json").status_code == 202
    finally:
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 30000")
    assert CollectionRequest.objects.count() == 1  # the refused one left nothing


@pytest.fixture
def redis_unreachable(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    ratelimit._redis_client.cache_clear()
    yield
    ratelimit._redis_client.cache_clear()


@pytest.mark.django_db
def test_redis_unreachable_answers_503_where_a_request_is_counted_there(
    api_client, redis_unreachable, settings
):
    settings.ANALYTICS_COLLECT_RATE = 100
    _app, raw = registered_app()
    api_client.credentials(HTTP_X_API_KEY=raw)
    _assert_unavailable(api_client.post("/api/analytics/collect", {"event": "x"}, format="json"))
    assert Event.objects.count() == 0


def _sqlite_error(path, statement: str) -> OperationalError:
    """The error Django raises for ``statement`` run on a second connection to a database
    whose first connection holds the write lock (Django wraps the driver's error so)."""
    first = sqlite3.connect(path, isolation_level=None)
    first.execute("CREATE TABLE t (x)")
    first.execute("BEGIN IMMEDIATE")
    second = sqlite3.connect(path, timeout=0)
    try:
        second.execute(statement)
    except sqlite3.OperationalError as exc:
        wrapped = OperationalError(*exc.args)
        wrapped.__cause__ = exc
        return wrapped
    finally:
        first.close()
        second.close()
    raise AssertionError(f"{statement} did not fail")


def test_a_held_sqlite_lock_is_unavailable_and_a_missing_table_a_bug(tmp_path):
    assert service_unavailable(_sqlite_error(tmp_path / "a.sqlite3", "INSERT INTO t VALUES (1)"))
    assert not service_unavailable(_sqlite_error(tmp_path / "b.sqlite3", "SELECT * FROM missing"))


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_a_postgresql_error_in_the_statement_stays_a_bug():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 1")
        with pytest.raises(DatabaseError) as raised:
            cursor.execute("SELECT pg_sleep(1)")  # 57014 query_canceled: not an outage
        transaction.set_rollback(True)
    assert isinstance(raised.value, OperationalError)
    assert not service_unavailable(raised.value)


def test_every_operation_documents_the_503_and_the_health_check_keeps_its_own():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [
        (path, method, operation["responses"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ]
    assert len(operations) > 30
    for path, method, responses in operations:
        if path == "/healthz":
            assert responses["503"]["description"] == "Database down or no worker seen."
            continue
        unavailable = responses["503"]
        assert "service_unavailable" in unavailable["description"], (path, method)
        assert set(unavailable["headers"]) == {"Retry-After"}, (path, method)
