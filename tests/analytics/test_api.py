"""The analytics API: owners, apps and keys, collect, and the fresh summaries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from analytics.models import ApiKey, App, Event
from analytics.services import events_process_pending
from tests.analytics.conftest import json_client
from tests.analytics.factories import OwnerFactory, registered_app

EVENT = {
    "event": "login_form_cta_click",
    "url": "https://example.com/page",
    "referrer": "https://google.com",
    "device": "mobile",
    "ipAddress": "192.168.1.1",
    "timestamp": "2024-02-20T12:34:56Z",
    "userId": "user789",
    "metadata": {"browser": "Chrome", "os": "Android", "screenSize": "1080x1920"},
}


def _key_client(raw: str) -> APIClient:
    client = json_client()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


def _summary(client, **params):
    return client.get("/api/analytics/event-summary", params)


# --- owners ---------------------------------------------------------------------------------


def test_signup_is_refused_while_closed(anon_client, settings):
    settings.ANALYTICS_OPEN_SIGNUP = False
    body = {"username": "ann", "password": "a-long-pass-phrase", "email": "ann@example.com"}
    response = anon_client.post("/api/auth/signup", body, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "signup_closed"
    assert not App.objects.exists()


def test_open_signup_gives_a_token_that_registers_apps(anon_client, settings):
    settings.ANALYTICS_OPEN_SIGNUP = True
    body = {"username": "ann", "password": "a-long-pass-phrase", "email": "ann@example.com"}
    response = anon_client.post("/api/auth/signup", body, format="json")
    assert response.status_code == 201
    assert response.json()["username"] == "ann"
    token = response.json()["token"]
    again = anon_client.post("/api/auth/signup", body, format="json")
    assert again.status_code == 400
    assert "username" in again.json()
    weak = anon_client.post(
        "/api/auth/signup", {**body, "username": "bob", "password": "123"}, format="json"
    )
    assert weak.status_code == 400
    assert "password" in weak.json()

    got = anon_client.post(
        "/api/auth/token", {"username": "ann", "password": body["password"]}, format="json"
    )
    assert got.status_code == 200
    assert got.json() == {"token": token}
    wrong = anon_client.post(
        "/api/auth/token", {"username": "ann", "password": "nope"}, format="json"
    )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_credentials"

    anon_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    registered = anon_client.post(
        "/api/auth/register", {"name": "Shop", "domain": "https://shop.example"}, format="json"
    )
    assert registered.status_code == 201


def test_register_shows_the_key_once_and_stores_only_its_hash(owner_client, owner):
    response = owner_client.post(
        "/api/auth/register", {"name": "Shop", "domain": "https://shop.example"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"appId", "name", "domain", "apiKey", "expiresAt"}
    assert (body["name"], body["domain"], body["expiresAt"]) == (
        "Shop",
        "https://shop.example",
        None,
    )
    key = ApiKey.objects.get(app_id=body["appId"])
    assert body["apiKey"].startswith(f"ak_{key.prefix}_")
    assert body["apiKey"] not in key.hashed_key
    assert len(key.hashed_key) == 64

    metadata = owner_client.get("/api/auth/api-key", {"app_id": body["appId"]})
    assert metadata.status_code == 200
    assert metadata.json() == {
        "appId": body["appId"],
        "prefix": key.prefix,
        "createdAt": metadata.json()["createdAt"],
        "lastUsedAt": None,
        "expiresAt": None,
        "active": True,
    }
    assert body["apiKey"] not in str(metadata.json())


def test_register_refuses_a_bad_domain(owner_client):
    response = owner_client.post(
        "/api/auth/register", {"name": "x", "domain": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert "domain" in response.json()
    assert not App.objects.exists()


def test_owner_endpoints_need_credentials(anon_client):
    assert anon_client.post("/api/auth/register", {"name": "x"}).status_code == 401
    assert anon_client.get("/api/analytics/event-summary", {"event": "x"}).status_code == 401
    assert anon_client.get("/api/analytics/user-stats", {"userId": "x"}).status_code == 401


def test_another_owners_app_is_not_found_everywhere(owner_client, db):
    stranger_app, stranger_key = registered_app(OwnerFactory())
    app_id = str(stranger_app.pk)
    assert owner_client.get("/api/auth/api-key", {"app_id": app_id}).status_code == 404
    assert owner_client.post("/api/auth/regenerate", {"app_id": app_id}).status_code == 404
    assert owner_client.post("/api/auth/revoke", {"app_id": app_id}).status_code == 404
    assert owner_client.post("/api/auth/revoke", {"apiKey": stranger_key}).status_code == 404
    summary = _summary(owner_client, event="x", app_id=app_id)
    assert summary.status_code == 404
    assert summary.json()["code"] == "not_found"
    stats = owner_client.get("/api/analytics/user-stats", {"userId": "u", "app_id": app_id})
    assert stats.status_code == 404
    assert owner_client.get("/api/auth/api-key", {"app_id": "not-a-uuid"}).status_code == 404
    # The stranger's key still works: nothing was revoked.
    assert _key_client(stranger_key).post("/api/analytics/collect", EVENT).status_code == 202


def test_regenerate_replaces_the_key(owner_client, app_and_key):
    app, old = app_and_key
    response = owner_client.post("/api/auth/regenerate", {"app_id": str(app.pk)}, format="json")
    assert response.status_code == 200
    new = response.json()["apiKey"]
    assert response.json()["appId"] == str(app.pk)
    assert new != old
    assert _key_client(old).post("/api/analytics/collect", EVENT).status_code == 401
    assert _key_client(new).post("/api/analytics/collect", EVENT).status_code == 202
    assert ApiKey.objects.filter(app=app, revoked_at__isnull=True).count() == 1


def test_revoke_refuses_the_key_on_the_very_next_request(owner_client, app_and_key):
    app, raw = app_and_key
    client = _key_client(raw)
    assert client.post("/api/analytics/collect", EVENT, format="json").status_code == 202
    revoked = owner_client.post("/api/auth/revoke", {"app_id": str(app.pk)}, format="json")
    assert revoked.status_code == 200
    assert revoked.json() == {"appId": str(app.pk), "revoked": True}
    refused = client.post("/api/analytics/collect", EVENT, format="json")
    assert refused.status_code == 401
    assert Event.objects.count() == 1
    again = owner_client.post("/api/auth/revoke", {"app_id": str(app.pk)}, format="json")
    assert again.json() == {"appId": str(app.pk), "revoked": False}
    metadata = owner_client.get("/api/auth/api-key", {"app_id": str(app.pk)}).json()
    assert metadata["active"] is False
    assert metadata["lastUsedAt"] is not None


def test_revoke_by_the_key_itself(owner_client, app_and_key):
    app, raw = app_and_key
    response = owner_client.post("/api/auth/revoke", {"apiKey": raw}, format="json")
    assert response.json() == {"appId": str(app.pk), "revoked": True}
    assert _key_client(raw).post("/api/analytics/collect", EVENT).status_code == 401
    both = owner_client.post(
        "/api/auth/revoke", {"apiKey": raw, "app_id": str(app.pk)}, format="json"
    )
    assert both.status_code == 400


# --- collect --------------------------------------------------------------------------------


def test_collect_stores_the_event_before_answering(collect_client, app_and_key):
    app, _ = app_and_key
    response = collect_client.post("/api/analytics/collect", EVENT, format="json")
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    stored = Event.objects.get()
    assert (stored.app_id, stored.event, stored.device, stored.user_key) == (
        app.pk,
        "login_form_cta_click",
        "mobile",
        "u:user789",
    )
    assert (stored.browser, stored.os, stored.ip_address) == ("Chrome", "Android", "192.168.1.1")
    assert stored.timestamp.isoformat() == "2024-02-20T12:34:56+00:00"
    assert str(stored.day) == "2024-02-20"
    assert stored.metadata == EVENT["metadata"]


def test_collect_fills_the_client_address_and_server_time(collect_client):
    before = timezone.now()
    response = collect_client.post(
        "/api/analytics/collect", {"event": "visit"}, format="json", REMOTE_ADDR="10.1.2.3"
    )
    assert response.status_code == 202
    stored = Event.objects.get()
    assert (stored.ip_address, stored.user_key, stored.device) == ("10.1.2.3", "i:10.1.2.3", "")
    assert before <= stored.timestamp <= timezone.now()


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_X_API_KEY": "nope"}, {"HTTP_X_API_KEY": "ak_0123456789ab_wrong-secret-value"}],
)
def test_collect_without_a_valid_key_is_401_and_stores_nothing(db, headers):
    response = APIClient().post("/api/analytics/collect", EVENT, format="json", **headers)
    assert response.status_code == 401
    assert not Event.objects.exists()


def test_a_wrong_secret_with_a_real_prefix_is_refused(app_and_key):
    _, raw = app_and_key
    forged = raw[:16] + ("A" if raw[16] != "A" else "B") + raw[17:]
    assert _key_client(forged).post("/api/analytics/collect", EVENT).status_code == 401
    assert not Event.objects.exists()


def test_an_expired_key_is_refused(app_and_key):
    app, raw = app_and_key
    ApiKey.objects.filter(app=app).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _key_client(raw).post("/api/analytics/collect", EVENT).status_code == 401
    assert not Event.objects.exists()


def test_the_header_name_is_case_insensitive(app_and_key):
    from django.test import Client

    _, raw = app_and_key
    response = Client().post(
        "/api/analytics/collect", EVENT, content_type="application/json", headers={"X-API-KEY": raw}
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event": ""}, "event"),
        ({"event": "x" * 256}, "event"),
        ({"device": "phone"}, "device"),
        ({"url": "not a url"}, "url"),
        ({"referrer": 5}, "referrer"),
        ({"ipAddress": "300.1.1.1"}, "ipAddress"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"userId": ""}, "userId"),
        ({"metadata": ["a"]}, "metadata"),
        ({"metadata": {"blob": "x" * 9000}}, "metadata"),
        ({"metadata": {"a": "\u0000"}}, "metadata"),
        ({"event": "a\u0000b"}, "event"),
        ({"colour": "red"}, "non_field_errors"),
    ],
)
def test_collect_refuses_invalid_events_with_field_errors(collect_client, change, field):
    response = collect_client.post("/api/analytics/collect", {**EVENT, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Event.objects.exists()


def test_a_timestamp_more_than_a_day_ahead_is_refused(collect_client):
    ahead = (timezone.now() + timedelta(hours=25)).isoformat()
    almost = (timezone.now() + timedelta(hours=23)).isoformat()
    response = collect_client.post(
        "/api/analytics/collect", {**EVENT, "timestamp": ahead}, format="json"
    )
    assert response.status_code == 400
    assert "timestamp" in response.json()
    ok = collect_client.post(
        "/api/analytics/collect", {**EVENT, "timestamp": almost}, format="json"
    )
    assert ok.status_code == 202


def test_collect_refuses_a_body_that_is_not_json(collect_client):
    bad = collect_client.post("/api/analytics/collect", b"{nope", content_type="application/json")
    assert bad.status_code == 400
    scalar = collect_client.post("/api/analytics/collect", 5, format="json")
    assert scalar.status_code == 400
    assert not Event.objects.exists()


def test_a_batch_stores_the_good_items_and_reports_the_bad_by_index(collect_client):
    items = [EVENT, {"event": ""}, {**EVENT, "userId": "u2"}, "text"]
    response = collect_client.post("/api/analytics/collect", items, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2
    assert [item["index"] for item in body["rejected"]] == [1, 3]
    assert "event" in body["rejected"][0]["errors"]
    user_ids = Event.objects.values_list("user_id", flat=True)
    assert sorted(user_id or "" for user_id in user_ids) == ["u2", "user789"]


def test_a_batch_over_the_limit_is_refused_whole(collect_client, settings):
    settings.ANALYTICS_MAX_BATCH = 3
    response = collect_client.post("/api/analytics/collect", [EVENT] * 4, format="json")
    assert response.status_code == 400
    assert not Event.objects.exists()
    empty = collect_client.post("/api/analytics/collect", [], format="json")
    assert (empty.status_code, empty.json()) == (202, {"accepted": 0, "rejected": []})


def test_collect_query_budget(collect_client, django_assert_max_num_queries, settings):
    settings.ANALYTICS_COLLECT_RATE = 0  # the limiter's own query is counted in its tests
    collect_client.post("/api/analytics/collect", EVENT, format="json")  # last_used_at written
    # the key's liveness, insert (+ savepoint on SQLite), the batcher's lock check and pending
    # count
    with django_assert_max_num_queries(5):
        response = collect_client.post("/api/analytics/collect", EVENT, format="json")
    assert response.status_code == 202
    with django_assert_max_num_queries(5):
        response = collect_client.post("/api/analytics/collect", [EVENT] * 50, format="json")
    assert response.json()["accepted"] == 50


def test_collect_round_trips_with_the_limiter_counted(
    collect_client, django_assert_num_queries, settings
):
    """Exact statements of a collect (the test's transaction turns BEGIN/COMMIT into
    savepoints). The key's secret is checked in the process once it knows the key (the first
    request reads it). On PostgreSQL one event is one statement in autocommit: the key read
    live, the request counted, the event stored (analytics.admission_group); a batch is one
    statement reading the key live and counting the request, then a transaction that takes
    the writer lock and COPYs (on psycopg's cursor, which Django's query log does not see: the
    rows are counted instead). SQLite: the key's liveness, the counter's upsert in its own
    transaction, then the insert in another."""
    collect_client.post("/api/analytics/collect", EVENT, format="json")  # the key read, touched
    single, batch = (1, 4) if settings.IS_POSTGRES else (7, 7)
    with django_assert_num_queries(single):
        assert (
            collect_client.post("/api/analytics/collect", EVENT, format="json").status_code == 202
        )
    with django_assert_num_queries(batch):
        response = collect_client.post("/api/analytics/collect", [EVENT] * 50, format="json")
    assert response.json()["accepted"] == 50
    assert Event.objects.count() == 52


# --- reads ----------------------------------------------------------------------------------


def _collect(client, **fields):
    body = {"event": "click", **fields}
    response = client.post("/api/analytics/collect", body, format="json")
    assert response.status_code == 202, response.json()


def test_collect_then_summary_counts_it_at_once_before_and_after_processing(
    owner_client, collect_client
):
    _collect(collect_client, userId="u1", device="mobile", timestamp="2024-02-20T10:00:00Z")
    expected = {"event": "click", "count": 1, "uniqueUsers": 1, "deviceData": {"mobile": 1}}
    assert _summary(owner_client, event="click").json() == expected
    assert events_process_pending() == 1
    assert _summary(owner_client, event="click").json() == expected
    _collect(collect_client, userId="u1", device="mobile", timestamp="2024-02-20T11:00:00Z")
    _collect(collect_client, userId="u2", timestamp="2024-02-20T11:00:00Z")
    # Half processed, half pending: counted once each, u1 once.
    merged = {
        "event": "click",
        "count": 3,
        "uniqueUsers": 2,
        "deviceData": {"mobile": 2, "unknown": 1},
    }
    assert _summary(owner_client, event="click").json() == merged
    events_process_pending()
    assert _summary(owner_client, event="click").json() == merged


@pytest.mark.parametrize("processed", [False, True])
def test_summary_dates_are_inclusive_days_in_utc(owner_client, collect_client, processed):
    for ts in (
        "2024-02-19T23:59:59Z",
        "2024-02-20T00:00:00Z",
        "2024-02-21T23:59:59.999Z",
        "2024-02-22T00:30:00+02:00",  # 2024-02-21 22:30 UTC
        "2024-02-22T00:00:00Z",
    ):
        _collect(collect_client, userId=ts, timestamp=ts)
    if processed:
        events_process_pending()
    inside = _summary(owner_client, event="click", startDate="2024-02-20", endDate="2024-02-21")
    assert inside.json()["count"] == 3
    one_day = _summary(owner_client, event="click", startDate="2024-02-22", endDate="2024-02-22")
    assert one_day.json()["count"] == 1
    assert _summary(owner_client, event="click", endDate="2024-02-19").json()["count"] == 1
    assert _summary(owner_client, event="click").json()["count"] == 5


def test_summary_refuses_bad_dates(owner_client):
    reversed_ = _summary(owner_client, event="click", startDate="2024-02-21", endDate="2024-02-20")
    assert reversed_.status_code == 400
    assert "startDate" in reversed_.json()
    assert _summary(owner_client, event="click", startDate="20-02-2024").status_code == 400
    assert _summary(owner_client, startDate="2024-02-20").status_code == 400  # no event


@pytest.mark.parametrize("processed", [False, True])
def test_unique_users_by_user_id_else_ip_address(owner_client, collect_client, processed):
    _collect(collect_client, userId="u1", ipAddress="10.0.0.1")
    _collect(collect_client, userId="u1", ipAddress="10.0.0.2")
    _collect(collect_client, ipAddress="10.0.0.1")  # no userId: counted by its ip
    _collect(collect_client, ipAddress="10.0.0.1")
    _collect(collect_client, ipAddress="10.0.0.3")
    _collect(collect_client, userId="10.0.0.3")  # a userId equal to an ip is another user
    if processed:
        events_process_pending()
    body = _summary(owner_client, event="click").json()
    assert (body["count"], body["uniqueUsers"]) == (6, 4)


def test_unique_users_over_days_count_a_user_once(owner_client, collect_client):
    for day in ("2024-03-01", "2024-03-02", "2024-03-03"):
        _collect(collect_client, userId="u1", timestamp=f"{day}T08:00:00Z")
        events_process_pending()
    _collect(collect_client, userId="u2", timestamp="2024-03-02T08:00:00Z")
    body = _summary(
        owner_client, event="click", startDate="2024-03-01", endDate="2024-03-03"
    ).json()
    assert (body["count"], body["uniqueUsers"]) == (4, 2)


def test_pending_users_join_the_folded_ones_once(owner_client, collect_client):
    """A pending event's user may already be in a day's bitmap (counted once), be numbered
    only by another event (counted), or be new to the dictionary (counted)."""
    _collect(collect_client, userId="u1", timestamp="2024-03-01T08:00:00Z")
    _collect(collect_client, event="view", userId="u2", timestamp="2024-03-01T08:00:00Z")
    events_process_pending()
    _collect(collect_client, userId="u1", timestamp="2024-03-02T08:00:00Z")
    _collect(collect_client, userId="u2", timestamp="2024-03-02T08:00:00Z")
    _collect(collect_client, userId="u3", timestamp="2024-03-02T08:00:00Z")
    _collect(collect_client, userId="u3", timestamp="2024-03-03T08:00:00Z")
    body = _summary(owner_client, event="click").json()
    assert (body["count"], body["uniqueUsers"]) == (5, 3)
    one_day = _summary(owner_client, event="click", startDate="2024-03-02", endDate="2024-03-02")
    assert (one_day.json()["count"], one_day.json()["uniqueUsers"]) == (3, 3)
    events_process_pending()
    assert _summary(owner_client, event="click").json() == body


@pytest.mark.parametrize("processed", ["none", "half", "all"])
def test_device_data_lists_the_devices_seen_and_unknown(owner_client, collect_client, processed):
    devices = ["mobile", None, "desktop", "mobile", "tablet", None, "other", None]
    fold_after = {"none": None, "half": 3, "all": len(devices) - 1}[processed]
    for index, device in enumerate(devices):
        _collect(collect_client, userId=f"u{index}", **({"device": device} if device else {}))
        if index == fold_after:
            assert events_process_pending() == index + 1
    body = _summary(owner_client, event="click").json()
    assert body["deviceData"] == {"desktop": 1, "mobile": 2, "other": 1, "tablet": 1, "unknown": 3}
    assert list(body["deviceData"]) == ["desktop", "mobile", "other", "tablet", "unknown"]
    assert body["count"] == 8


def test_summary_with_no_data_is_zeros(owner_client, collect_client):
    _collect(collect_client, event="other")
    assert _summary(owner_client, event="click").json() == {
        "event": "click",
        "count": 0,
        "uniqueUsers": 0,
        "deviceData": {},
    }


def test_summary_covers_all_the_owners_apps_or_one(
    owner, owner_client, collect_client, app_and_key
):
    second, second_key = registered_app(owner, name="second")
    _, stranger_key = registered_app(OwnerFactory())
    _collect(collect_client, userId="u1", device="desktop")
    _collect(_key_client(second_key), userId="u1", device="tablet")
    _collect(_key_client(stranger_key), userId="u9", device="mobile")
    both = _summary(owner_client, event="click").json()
    assert both == {
        "event": "click",
        "count": 2,
        "uniqueUsers": 1,
        "deviceData": {"desktop": 1, "tablet": 1},
    }
    one = _summary(owner_client, event="click", app_id=str(second.pk)).json()
    assert (one["count"], one["deviceData"]) == (1, {"tablet": 1})


def test_summary_query_budget(owner_client, collect_client, django_assert_num_queries, settings):
    settings.ANALYTICS_READ_RATE = 0
    _collect(collect_client)
    # token auth, (PostgreSQL: the watermark, so the plan sees it), the summary statement
    with django_assert_num_queries(3 if connection.vendor == "postgresql" else 2):
        assert _summary(owner_client, event="click").status_code == 200


def test_user_stats_query_budget(owner_client, collect_client, django_assert_num_queries, settings):
    settings.ANALYTICS_READ_RATE = 0
    _collect(collect_client, userId="u9")
    # token auth, (PostgreSQL: the watermark, so the plan sees it), the user-stats statement
    with django_assert_num_queries(3 if connection.vendor == "postgresql" else 2):
        response = owner_client.get("/api/analytics/user-stats", {"userId": "u9"})
    assert (response.status_code, response.json()["totalEvents"]) == (200, 1)


def test_one_claim_keeps_the_latest_event_to_the_microsecond_and_then_by_id(
    owner_client, collect_client
):
    sent = [
        ("2024-02-20T12:00:00.000001Z", "Late"),
        ("2024-02-20T12:00:00.000002Z", "Latest, first of a tie"),
        ("2024-02-20T12:00:00.000002Z", "Latest, last of a tie"),
        ("2024-02-20T12:00:00Z", "Early"),
        ("2019-01-01T00:00:00Z", "Old"),
    ]
    for timestamp, browser in sent:
        _collect(collect_client, userId="u7", timestamp=timestamp, metadata={"browser": browser})
    assert events_process_pending() == len(sent)  # one claim
    body = owner_client.get("/api/analytics/user-stats", {"userId": "u7"}).json()
    assert (body["totalEvents"], body["deviceDetails"]["browser"]) == (5, "Latest, last of a tie")


@pytest.mark.parametrize("processed", [False, True])
def test_user_stats_take_the_latest_event_by_timestamp(owner_client, collect_client, processed):
    _collect(
        collect_client,
        userId="user789",
        ipAddress="192.168.1.1",
        timestamp="2024-02-20T12:00:00Z",
        metadata={"browser": "Chrome", "os": "Android"},
    )
    if processed:
        events_process_pending()
    # Sent later but older: it counts, but does not replace the device details.
    _collect(
        collect_client,
        userId="user789",
        ipAddress="10.0.0.9",
        timestamp="2024-02-19T12:00:00Z",
        metadata={"browser": "Firefox", "os": "Linux"},
    )
    if processed:
        events_process_pending()
    _collect(collect_client, userId="someone-else")
    response = owner_client.get("/api/analytics/user-stats", {"userId": "user789"})
    assert response.status_code == 200
    assert response.json() == {
        "userId": "user789",
        "totalEvents": 2,
        "deviceDetails": {"browser": "Chrome", "os": "Android"},
        "ipAddress": "192.168.1.1",
    }


def test_user_stats_of_an_unknown_user_is_404(owner_client, collect_client):
    _collect(collect_client, ipAddress="10.0.0.1")  # no userId: never a user-stats user
    response = owner_client.get("/api/analytics/user-stats", {"userId": "10.0.0.1"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert owner_client.get("/api/analytics/user-stats").status_code == 400


def test_user_stats_are_owner_scoped(owner_client, db):
    _, stranger_key = registered_app(OwnerFactory())
    _collect(_key_client(stranger_key), userId="u1")
    assert owner_client.get("/api/analytics/user-stats", {"userId": "u1"}).status_code == 404


def test_key_metadata_reads_in_every_state(owner_client, app_and_key):
    app, _ = app_and_key
    url_params = {"app_id": str(app.pk)}
    assert owner_client.get("/api/auth/api-key", url_params).json()["active"] is True
    past = timezone.now() - timedelta(days=1)
    ApiKey.objects.filter(app=app).update(expires_at=past)
    expired = owner_client.get("/api/auth/api-key", url_params)
    assert expired.status_code == 200
    assert expired.json()["active"] is False
    assert expired.json()["expiresAt"] is not None
    owner_client.post("/api/auth/regenerate", url_params)
    fresh = owner_client.get("/api/auth/api-key", url_params).json()
    assert fresh["active"] is True
    assert fresh["expiresAt"] is None
    owner_client.post("/api/auth/revoke", url_params)
    revoked = owner_client.get("/api/auth/api-key", url_params)
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False


# --- rate limits ----------------------------------------------------------------------------


def test_collect_is_limited_per_key(owner, collect_client, settings, one_window):
    settings.ANALYTICS_COLLECT_RATE = 2
    statuses = [
        collect_client.post("/api/analytics/collect", EVENT, format="json").status_code
        for _ in range(3)
    ]
    assert statuses == [202, 202, 429]
    refused = collect_client.post("/api/analytics/collect", [EVENT, EVENT], format="json")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "50"
    assert refused.json()["code"] == "throttled"
    assert Event.objects.count() == 2  # nothing of a refused request is stored
    _, other_key = registered_app(owner, name="other")  # same owner, another key
    assert _key_client(other_key).post("/api/analytics/collect", EVENT).status_code == 202


def test_reads_are_limited_per_owner(owner_client, app_and_key, settings, one_window):
    settings.ANALYTICS_READ_RATE = 4
    app, _ = app_and_key
    reads = [
        owner_client.get("/api/analytics/event-summary", {"event": "click"}),
        owner_client.get("/api/analytics/user-stats", {"userId": "nobody"}),  # a 404 counts
        owner_client.get("/api/auth/api-key", {"app_id": str(app.pk)}),
        owner_client.get("/api/auth/token"),
        owner_client.get("/api/analytics/event-summary", {"event": "click"}),
        owner_client.post("/api/auth/regenerate", {"app_id": str(app.pk)}, format="json"),
    ]
    assert [r.status_code for r in reads] == [200, 404, 200, 200, 429, 429]
    assert reads[-1]["Retry-After"] == "50"
    assert reads[-1].json()["code"] == "throttled"
    assert ApiKey.objects.get(app=app).revoked_at is None  # the refused regenerate did nothing
    other = json_client()
    other.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=OwnerFactory.create()).key}"
    )
    assert other.get("/api/analytics/event-summary", {"event": "click"}).status_code == 200


def test_metadata_is_stored_as_sent_whatever_json_library_serialises_it():
    from analytics.validation import event_validate

    def stored(metadata: dict) -> str:
        event, errors = event_validate({"event": "e", "metadata": metadata}, client_ip="10.0.0.1")
        assert errors == {}
        assert event is not None
        assert event.metadata_json is not None
        return event.metadata_json

    assert stored({"n": 2**70, "name": "café"}) == '{"n":1180591620717411303424,"name":"café"}'
    # The size limit counts the stored UTF-8 bytes: {"k":"..."} is 8 bytes around the value.
    assert len(stored({"k": "é" * 4092}).encode()) == 8_192
    _, errors = event_validate({"event": "e", "metadata": {"k": "é" * 4093}}, client_ip="10.0.0.1")
    assert errors == {"metadata": ["Must be at most 8192 bytes as JSON."]}
