"""Admin pages load with their filters and search; the re-process action repairs a total."""

import io

import pytest

from ingestion.demo import demo_load
from ingestion.models import Batch, Event, UserRevenue
from ingestion.services import events_process_pending
from tests.admin_checks import assert_constant_queries, assert_read_only, messages_of
from tests.ingestion.factories import EventFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/ingestion/userrevenue/?q=user1",
        "/admin/ingestion/event/?state=pending",
        "/admin/ingestion/event/?state=processed&name=add_revenue",
        "/admin/ingestion/event/?q=user1",
        "/admin/ingestion/batch/",
    ],
)
def test_changelists_load(admin_client, url):
    EventFactory.create_batch(5)
    events_process_pending()
    EventFactory.create_batch(2)
    assert admin_client.get(url).status_code == 200


def test_event_log_filters_pending_and_processed(admin_client):
    EventFactory.create_batch(3)
    events_process_pending()
    EventFactory.create_batch(2)
    pending = admin_client.get("/admin/ingestion/event/?state=pending")
    processed = admin_client.get("/admin/ingestion/event/?state=processed")
    assert pending.context["cl"].result_count == 2
    assert processed.context["cl"].result_count == 3


def test_reprocess_action_recomputes_the_user_from_the_log(admin_client):
    EventFactory(user_id="user1", value=4, amount=4)
    EventFactory(user_id="user1", value=6, amount=6)
    events_process_pending()
    UserRevenue.objects.filter(user_id="user1").update(revenue=1000)
    event = Event.objects.all()[0]

    response = admin_client.post(
        "/admin/ingestion/event/",
        {"action": "reprocess_users", "_selected_action": [event.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert UserRevenue.objects.get(user_id="user1").revenue == 10
    assert "Checked 1 user: recomputed 1 total from the log (user1: 1000 → 10)" in response.text


def test_reprocess_action_counts_the_users_it_checked(admin_client):
    for user in ("user1", "user2", "user3"):
        EventFactory(user_id=user, value=4, amount=4)
    events_process_pending()
    UserRevenue.objects.filter(user_id="user2").update(revenue=7)
    users = list(UserRevenue.objects.values_list("pk", flat=True))
    chosen = {"action": "reprocess_from_log", "_selected_action": users}
    response = admin_client.post("/admin/ingestion/userrevenue/", chosen)
    assert response.status_code == 302
    assert messages_of(response) == [
        "Checked 3 users: recomputed 1 total from the log (user2: 7 → 4)"
    ]
    response = admin_client.post("/admin/ingestion/userrevenue/", chosen)
    assert messages_of(response) == ["Checked 3 users: every total already matches the log"]


def test_reprocess_names_the_first_20_repairs_and_counts_the_rest(admin_client):
    for n in range(23):
        EventFactory(user_id=f"user{n:02}", value=4, amount=4)
    events_process_pending()
    UserRevenue.objects.update(revenue=7)
    users = list(UserRevenue.objects.values_list("pk", flat=True))
    chosen = {"action": "reprocess_from_log", "_selected_action": users}
    (message,) = messages_of(admin_client.post("/admin/ingestion/userrevenue/", chosen))
    named = "; ".join(f"user{n:02}: 7 → 4" for n in range(20))
    assert message == (f"Checked 23 users: recomputed 23 totals from the log ({named}; and 3 more)")
    assert set(UserRevenue.objects.values_list("revenue", flat=True)) == {4}


def test_revenue_events_and_batches_are_read_only(admin_client):
    EventFactory(user_id="user1", value=4, amount=4)
    events_process_pending()
    for obj in (UserRevenue.objects.get(), Event.objects.get(), Batch.objects.get()):
        assert_read_only(admin_client, obj)
    assert UserRevenue.objects.get().revenue == 4
    assert (Event.objects.count(), Batch.objects.count()) == (1, 1)


def _events_processed(count: int) -> None:
    EventFactory.create_batch(count)
    events_process_pending()


def _batches(count: int) -> None:
    for _ in range(count):
        _events_processed(1)


@pytest.mark.parametrize(
    ("url", "make"),
    [
        ("/admin/ingestion/event/", _events_processed),
        ("/admin/ingestion/batch/", _batches),
    ],
)
def test_changelists_cost_the_same_queries_for_1_and_20_rows(
    admin_client, django_assert_num_queries, url, make
):
    assert_constant_queries(admin_client, url, make, django_assert_num_queries)


def test_revenue_list_costs_the_same_queries_for_1_and_20_users(
    admin_client, django_assert_num_queries
):
    made = {"n": 0}

    def make(count: int) -> None:
        for _ in range(count):
            EventFactory(user_id=f"payer{made['n']}")
            made["n"] += 1
        events_process_pending()

    url = "/admin/ingestion/userrevenue/"
    assert_constant_queries(admin_client, url, make, django_assert_num_queries)


def test_demo_load_is_idempotent():
    out = io.StringIO()
    demo_load(stdout=out)
    demo_load(stdout=out)
    assert dict(UserRevenue.objects.values_list("user_id", "revenue")) == {
        "demo-user1": 27,
        "demo-user2": 58,
    }
    assert Event.objects.count() == 5
    assert out.getvalue().splitlines() == [
        "ingestion: 5 demo events added; revenue demo-user1 = 27, demo-user2 = 58",
        "ingestion: 0 demo events added; revenue demo-user1 = 27, demo-user2 = 58",
    ]
