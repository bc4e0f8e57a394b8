"""The request path: the API fast path through the middleware, the one-query token
authentication, and the round trips of each hot operation (which a later change must not
quietly grow)."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from core import batching
from ingestion.models import Event
from ingestion.services import EVENTS_BATCHER
from streams.models import StreamSession
from tests.streams.factories import ViewerFactory

START = "/api/streams/sessions"
LIVE_EVENT = {"userId": "u1", "name": "add_revenue", "value": 7}


@pytest.fixture
def session_client(make_client):
    return make_client(perms=("streams.manage_sessions",))


def _perm(name: str) -> Permission:
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


# --- middleware -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_request_without_session_cookie_skips_session_and_csrf(session_client):
    ViewerFactory(user_id="alice")
    response = session_client.post(START, {"user_id": "alice"}, format="json")
    assert response.status_code == 201
    assert response.wsgi_request.api_fast_path is True
    assert not hasattr(response.wsgi_request, "session")
    assert response.cookies == {}
    assert "Cookie" not in response.get("Vary", "")


@pytest.mark.django_db
def test_admin_keeps_sessions_csrf_and_messages():
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests-123")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/admin/login/")
    assert page.status_code == 200
    assert getattr(page.wsgi_request, "api_fast_path", False) is False
    token = page.cookies["csrftoken"].value
    refused = browser.post("/admin/login/", {"username": "root", "password": "pw-for-tests-123"})
    assert refused.status_code == 403  # no CSRF token in the form: still enforced
    login = browser.post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": "pw-for-tests-123", "csrfmiddlewaretoken": token},
    )
    assert login.status_code == 302
    assert "sessionid" in login.cookies
    index = browser.get("/admin/")
    assert index.status_code == 200
    assert index.wsgi_request.user.username == "root"
    # A change through the admin leaves a message for the next page (messages middleware).
    group_add = browser.post(
        "/admin/auth/group/add/",
        {"name": "ops", "csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
        follow=True,
    )
    assert group_add.status_code == 200
    assert next(str(m) for m in group_add.context["messages"]).startswith("The group")


@pytest.mark.django_db
def test_api_with_a_session_cookie_gets_session_auth_and_csrf():
    user = get_user_model().objects.create_user("op", password="pw-for-tests-123")
    user.user_permissions.add(_perm("streams.view_viewer"), _perm("streams.change_viewer"))
    user.user_permissions.add(_perm("streams.add_viewer"))
    ViewerFactory(user_id="alice", max_streams=2)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    read = browser.get("/api/streams/viewers/alice")
    assert read.status_code == 200
    assert getattr(read.wsgi_request, "api_fast_path", False) is False
    assert read.json()["max_streams"] == 2
    # A session-authenticated write without the CSRF token is refused, as before.
    write = browser.put(
        "/api/streams/viewers/alice", json.dumps({"max_streams": 3}), "application/json"
    )
    assert write.status_code == 403
    assert "CSRF" in write.json()["detail"]


# --- token authentication ---------------------------------------------------------------------


@pytest.mark.django_db
def test_token_reads_user_and_permissions_in_one_query(make_client, django_assert_num_queries):
    client = make_client(perms=("streams.view_viewer",))
    ViewerFactory(user_id="alice")
    # token + user + permissions, then the viewer and its active sessions
    with django_assert_num_queries(3):
        assert client.get("/api/streams/viewers/alice").status_code == 200


@pytest.mark.django_db
def test_token_user_is_the_user_the_orm_loads():
    from datetime import UTC, datetime

    from rest_framework.authtoken.models import Token

    from core.api.authentication import TokenAuthentication

    user = get_user_model().objects.create_user(
        "carol", email="c@example.com", password="pw-for-tests-123", first_name="Carol"
    )
    get_user_model().objects.filter(pk=user.pk).update(
        is_superuser=True, last_login=datetime(2026, 12, 1, 8, 30, 15, 250000, tzinfo=UTC)
    )
    user.user_permissions.add(_perm("streams.view_viewer"))
    key = Token.objects.create(user=user).key

    authenticated, token = TokenAuthentication().authenticate_credentials(key)

    loaded = get_user_model().objects.get(pk=user.pk)
    fields = [field.attname for field in get_user_model()._meta.concrete_fields]
    assert {name: getattr(authenticated, name) for name in fields} == {
        name: getattr(loaded, name) for name in fields
    }
    assert authenticated.is_superuser is True
    assert authenticated.is_active is True
    assert authenticated.last_login == datetime(2026, 12, 1, 8, 30, 15, 250000, tzinfo=UTC)
    assert authenticated._state.adding is False
    assert authenticated.get_all_permissions() == {"streams.view_viewer"}
    assert token.key == key
    assert token.user is authenticated


@pytest.mark.django_db
def test_token_permissions_through_a_group_and_withdrawn_on_the_next_request(make_client):
    client = make_client()
    ViewerFactory(user_id="alice")
    key = client._credentials["HTTP_AUTHORIZATION"].removeprefix("Token ")
    user = get_user_model().objects.get(auth_token__key=key)
    assert client.get("/api/streams/viewers/alice").status_code == 403
    group = Group.objects.create(name="readers")
    group.permissions.add(_perm("streams.view_viewer"))
    user.groups.add(group)
    assert client.get("/api/streams/viewers/alice").status_code == 200
    user.groups.remove(group)
    assert client.get("/api/streams/viewers/alice").status_code == 403
    user.user_permissions.add(_perm("streams.view_viewer"))
    assert client.get("/api/streams/viewers/alice").status_code == 200


@pytest.mark.django_db
def test_token_of_inactive_user_or_unknown_token_is_401(make_client):
    client = make_client(perms=("streams.view_viewer",))
    ViewerFactory(user_id="alice")
    key = client._credentials["HTTP_AUTHORIZATION"][6:]
    get_user_model().objects.filter(auth_token__key=key).update(is_active=False)
    response = client.get("/api/streams/viewers/alice")
    assert response.status_code == 401
    assert response.json()["detail"] == "User inactive or deleted."
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = stranger.get("/api/streams/viewers/alice")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."
    stranger.credentials(HTTP_AUTHORIZATION="Token abc\x00def")
    assert stranger.get("/api/streams/viewers/alice").status_code == 401


# --- round trips of the hot operations -------------------------------------------------------


@pytest.mark.django_db
def test_heartbeat_is_one_statement_after_the_token(session_client, django_assert_num_queries):
    ViewerFactory(user_id="alice")
    session_id = session_client.post(START, {"user_id": "alice"}, format="json").json()["id"]
    with django_assert_num_queries(2):
        response = session_client.post(f"{START}/{session_id}/heartbeat")
    assert response.status_code == 200
    assert response.json()["user_id"] == "alice"
    assert response.json()["id"] == session_id


@pytest.mark.django_db
def test_stop_is_one_statement_after_the_token(session_client, django_assert_num_queries):
    ViewerFactory(user_id="alice")
    session_id = session_client.post(START, {"user_id": "alice"}, format="json").json()["id"]
    with django_assert_num_queries(2):
        assert session_client.delete(f"{START}/{session_id}").status_code == 204
    assert StreamSession.objects.get().end_reason == "stopped"


@pytest.mark.django_db
def test_start_round_trips(session_client, django_assert_num_queries):
    ViewerFactory(user_id="alice")
    # token; then on PostgreSQL one statement (the database function streams_session_start,
    # decision 0034); on SQLite one transaction (a savepoint inside the test's): lock the
    # viewer, list its open sessions, insert
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 6):
        response = session_client.post(START, {"user_id": "alice"}, format="json")
    assert response.status_code == 201
    for _ in range(2):  # the default limit is 3
        assert session_client.post(START, {"user_id": "alice"}, format="json").status_code == 201
    # A refusal: token; lock, list, count the refusal on the viewer and in its hour (SQLite: in
    # a savepoint)
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 7):
        refused = session_client.post(START, {"user_id": "alice"}, format="json")
    assert refused.status_code == 409
    assert len(refused.json()["active"]) == 3


@pytest.mark.django_db
def test_live_event_is_one_statement(django_assert_num_queries):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="secret")
    with django_assert_num_queries(1):
        response = client.post("/liveEvent", LIVE_EVENT, format="json")
    assert response.status_code == 201
    assert Event.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_live_event_skips_the_batcher_check_while_a_trigger_is_in_flight(
    monkeypatch, django_assert_num_queries, settings
):
    settings.INGESTION_BATCH_SIZE = 1
    enqueued: list = []
    monkeypatch.setattr(batching, "async_task", lambda *a, **kw: enqueued.append(a))
    cache.clear()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="secret")
    # The first event crosses the threshold: the batcher reads the lock, counts, takes it.
    assert client.post("/liveEvent", LIVE_EVENT, format="json").status_code == 201
    assert len(enqueued) == 1
    # The trigger is in flight and this process saw it: the insert alone.
    with django_assert_num_queries(1):
        assert client.post("/liveEvent", LIVE_EVENT, format="json").status_code == 201
    assert len(enqueued) == 1
    assert cache.get(EVENTS_BATCHER.lock_key) == "1"


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_token_statement_is_prepared_on_its_connection_after_five_runs(make_client):
    client = make_client(perms=("streams.view_viewer",))
    ViewerFactory(user_id="alice")

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                ["%token_permission%"],
            )
            return cursor.fetchone()[0]

    seen = []
    for _ in range(8):
        assert client.get("/api/streams/viewers/alice").status_code == 200
        seen.append(prepared())
    # Five runs as a plain statement, then prepared: the sixth and later reuse its plan.
    assert seen == [0, 0, 0, 0, 0, 1, 1, 1]
