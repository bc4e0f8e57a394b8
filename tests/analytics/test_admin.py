"""Admin pages of the analytics domain, in every state of their objects."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import ApiKey, App, Batch, DailyCount, DailyUserSet, Event, UserStat
from analytics.services import events_collect, events_process_pending
from analytics.validation import event_validate
from tests.admin_checks import assert_constant_queries, assert_read_only, messages_of
from tests.analytics.factories import OwnerFactory, registered_app

KEYS = "/admin/analytics/apikey/"

pytestmark = pytest.mark.django_db


def _collect(app, n: int, **fields) -> None:
    events = []
    for i in range(n):
        data = {"event": "click", "userId": f"u{i}", **fields}
        event, errors = event_validate(data, client_ip="10.0.0.1")
        assert event is not None, errors
        events.append(event)
    events_collect(app_id=app.pk, events=events)


@pytest.fixture
def every_state(db):
    """A live, a revoked and an expired key; processed and pending events."""
    owner = OwnerFactory(username="ann")
    live, _ = registered_app(owner, name="live")
    revoked, _ = registered_app(owner, name="revoked")
    expired, _ = registered_app(owner, name="expired")
    ApiKey.objects.filter(app=revoked).update(revoked_at=timezone.now())
    ApiKey.objects.filter(app=expired).update(expires_at=timezone.now() - timedelta(days=1))
    _collect(live, 3, device="mobile", metadata={"browser": "Chrome", "os": "iOS"})
    events_process_pending()
    _collect(live, 2)
    return live, revoked, expired


@pytest.mark.parametrize(
    "url",
    [
        "/admin/analytics/owner/",
        "/admin/analytics/owner/?q=ann",
        "/admin/analytics/app/",
        "/admin/analytics/app/?q=live",
        "/admin/analytics/app/overview/",
        "/admin/analytics/apikey/",
        "/admin/analytics/apikey/?state=live",
        "/admin/analytics/apikey/?state=revoked",
        "/admin/analytics/event/",
        "/admin/analytics/event/?state=pending",
        "/admin/analytics/event/?state=processed&device=mobile",
        "/admin/analytics/event/?q=click",
        "/admin/analytics/batch/",
        "/admin/analytics/dailycount/",
        "/admin/analytics/dailyuserset/?q=click",
        "/admin/analytics/userstat/?q=u1",
    ],
)
def test_changelists_load(admin_client, every_state, url):
    assert admin_client.get(url).status_code == 200


def test_event_filters_count_pending_and_processed(admin_client, every_state):
    live, _, _ = every_state
    pending = admin_client.get("/admin/analytics/event/?state=pending")
    processed = admin_client.get(
        f"/admin/analytics/event/?state=processed&app__id__exact={live.pk}"
    )
    assert pending.context["cl"].result_count == 2
    assert processed.context["cl"].result_count == 3


def test_every_object_reads_in_every_state_and_the_hash_is_never_shown(admin_client, every_state):
    for app in App.objects.all():
        page = admin_client.get(f"/admin/analytics/app/{app.pk}/change/")
        assert page.status_code == 200
    for key in ApiKey.objects.all():
        page = admin_client.get(f"/admin/analytics/apikey/{key.pk}/change/")
        assert page.status_code == 200
        assert key.hashed_key not in page.content.decode()
        app_page = admin_client.get(f"/admin/analytics/app/{key.app_id}/change/")
        assert key.hashed_key not in app_page.content.decode()
    for model in (Event, DailyCount, DailyUserSet, UserStat):
        for obj in model.objects.all():
            url = f"/admin/analytics/{model._meta.model_name}/{obj.pk}/change/"
            assert admin_client.get(url).status_code == 200
    owner = App.objects.all()[0].owner
    assert admin_client.get(f"/admin/analytics/owner/{owner.pk}/change/").status_code == 200


def test_revoke_action_refuses_the_key(admin_client, every_state, api_client):
    owner = OwnerFactory()
    app, raw = registered_app(owner)
    key = ApiKey.objects.get(app=app)
    chosen = {"action": "revoke", "_selected_action": [key.pk]}
    asked = admin_client.post(KEYS, chosen)
    assert asked.status_code == 200
    assert "1 selected." in asked.text
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    response = admin_client.post(KEYS, {**chosen, "confirm": "yes"})
    assert response.status_code == 302
    assert messages_of(response) == [f"Revoked key {key.prefix} of app shop"]
    key.refresh_from_db()
    assert key.revoked_at is not None
    api_client.credentials(HTTP_X_API_KEY=raw)
    refused = api_client.post("/api/analytics/collect", {"event": "x"}, format="json")
    assert refused.status_code == 401


def test_overview_chart_draws_one_line_per_app(admin_client, every_state):
    other = registered_app(OwnerFactory(), name="other")[0]
    _collect(other, 4, timestamp=(timezone.now() - timedelta(days=3)).isoformat())
    _collect(other, 1, timestamp="2024-01-01T00:00:00Z")  # outside the last 30 days
    events_process_pending()
    page = admin_client.get("/admin/analytics/app/overview/")
    html = page.content.decode()
    assert html.count("<polyline") == 2
    chart = page.context["chart"]
    assert {(s.name, s.total) for s in chart.series} == {("live", 5), ("other", 4)}
    assert "<script" not in html.split('id="content-main"')[1]


def test_overview_without_data(admin_client):
    page = admin_client.get("/admin/analytics/app/overview/")
    assert page.status_code == 200
    assert "No processed events yet." in page.content.decode()


def test_revoke_counts_keys_and_apps_and_skips_revoked_ones(admin_client, every_state):
    keys = list(ApiKey.objects.order_by("pk").values_list("pk", flat=True))
    chosen = {"action": "revoke", "_selected_action": keys, "confirm": "yes"}
    response = admin_client.post(KEYS, chosen)
    assert messages_of(response) == ["Revoked 2 keys of 2 apps"]
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 0
    response = admin_client.post(KEYS, chosen)
    assert messages_of(response) == ["Revoked no key: the selected keys were already revoked"]


def test_everything_but_apps_is_read_only(admin_client, every_state):
    from analytics.models import Owner

    owner = Owner.objects.get(username="ann")
    for obj in (
        owner,
        ApiKey.objects.first(),
        Event.objects.first(),
        Batch.objects.first(),
        DailyCount.objects.first(),
        DailyUserSet.objects.first(),
        UserStat.objects.first(),
    ):
        assert_read_only(admin_client, obj)
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 2


@pytest.fixture
def made(db):
    """make(n): n new events, each its own name and user, folded by the processor."""
    app = registered_app(OwnerFactory(username="maker"), name="maker")[0]
    counter = {"n": 0}

    def make(count: int) -> None:
        events = []
        for _ in range(count):
            i = counter["n"]
            counter["n"] += 1
            raw = {"event": f"e{i}", "userId": f"u{i}"}
            event = event_validate(raw, client_ip="10.0.0.1")[0]
            assert event is not None
            events.append(event)
        events_collect(app_id=app.pk, events=events)
        events_process_pending()

    return make


def _apps(count: int) -> None:
    for _ in range(count):
        registered_app(OwnerFactory())


@pytest.mark.parametrize("model", ["event", "dailycount", "dailyuserset", "userstat"])
def test_event_changelists_cost_the_same_queries_for_1_and_20_rows(
    admin_client, django_assert_num_queries, made, model
):
    url = f"/admin/analytics/{model}/"
    assert_constant_queries(admin_client, url, made, django_assert_num_queries)


def test_batch_changelist_costs_the_same_queries_for_1_and_20_rows(
    admin_client, django_assert_num_queries, made
):
    def batches(count: int) -> None:
        for _ in range(count):
            made(1)

    url = "/admin/analytics/batch/"
    assert_constant_queries(admin_client, url, batches, django_assert_num_queries)


@pytest.mark.parametrize("model", ["owner", "app", "apikey"])
def test_account_changelists_cost_the_same_queries_for_1_and_20_rows(
    admin_client, django_assert_num_queries, model
):
    url = f"/admin/analytics/{model}/"
    assert_constant_queries(admin_client, url, _apps, django_assert_num_queries)


def test_an_app_with_events_is_kept_and_its_delete_page_loads_no_event(
    admin_client, django_assert_num_queries
):
    app, _ = registered_app(OwnerFactory(), name="logged")
    _collect(app, 1)
    url = f"/admin/analytics/app/{app.pk}/delete/"
    admin_client.get(url)  # the client's first request warms per-process caches
    with CaptureQueriesContext(connection) as one_event:
        admin_client.get(url)
    _collect(app, 50)
    with django_assert_num_queries(len(one_event.captured_queries)) as many:  # 51 events
        page = admin_client.get(url)
    reads = [q["sql"] for q in many.captured_queries if '"analytics_event"' in q["sql"]]
    assert reads
    assert all("LIMIT 1" in sql for sql in reads)
    assert page.status_code == 200
    assert "its events in the event log, which is kept" in page.text
    assert admin_client.post(url, {"post": "yes"}).status_code == 200  # the same refusal
    assert App.objects.filter(pk=app.pk).exists()
    assert Event.objects.filter(app_id=app.pk).count() == 51


def test_an_app_without_events_is_deleted_with_its_keys(admin_client):
    kept, _ = registered_app(OwnerFactory(), name="kept")
    _collect(kept, 2)
    app, _ = registered_app(OwnerFactory(), name="unused")
    page = admin_client.get(f"/admin/analytics/app/{app.pk}/delete/")
    assert "Are you sure" in page.text
    response = admin_client.post(f"/admin/analytics/app/{app.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not App.objects.filter(pk=app.pk).exists()
    assert not ApiKey.objects.filter(app_id=app.pk).exists()
    assert App.objects.filter(pk=kept.pk).exists()


def test_deleting_selected_apps_keeps_them_all_when_one_has_events(admin_client):
    logged, _ = registered_app(OwnerFactory(), name="logged")
    _collect(logged, 1)
    unused, _ = registered_app(OwnerFactory(), name="unused")
    selected = {"action": "delete_selected", "_selected_action": [logged.pk, unused.pk]}
    page = admin_client.post("/admin/analytics/app/", selected)
    assert "its events in the event log, which is kept" in page.text
    assert admin_client.post("/admin/analytics/app/", {**selected, "post": "yes"}).status_code
    assert App.objects.filter(pk__in=[logged.pk, unused.pk]).count() == 2
