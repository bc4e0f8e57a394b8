"""Admin pages load with their filters and search; the re-process action repairs a total."""

import io

import pytest

from ingestion.demo import demo_load
from ingestion.models import Event, UserRevenue
from ingestion.services import events_process_pending
from tests.ingestion.factories import EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "a@example.com", "pw")
    client.force_login(user)
    return client


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
def test_changelists_load(admin_client_, url):
    EventFactory.create_batch(5)
    events_process_pending()
    EventFactory.create_batch(2)
    assert admin_client_.get(url).status_code == 200


def test_event_log_filters_pending_and_processed(admin_client_):
    EventFactory.create_batch(3)
    events_process_pending()
    EventFactory.create_batch(2)
    pending = admin_client_.get("/admin/ingestion/event/?state=pending")
    processed = admin_client_.get("/admin/ingestion/event/?state=processed")
    assert pending.context["cl"].result_count == 2
    assert processed.context["cl"].result_count == 3


def test_reprocess_action_recomputes_the_user_from_the_log(admin_client_):
    EventFactory(user_id="user1", value=4, amount=4)
    EventFactory(user_id="user1", value=6, amount=6)
    events_process_pending()
    UserRevenue.objects.filter(user_id="user1").update(revenue=1000)
    event = Event.objects.all()[0]

    response = admin_client_.post(
        "/admin/ingestion/event/",
        {"action": "reprocess_users", "_selected_action": [event.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert UserRevenue.objects.get(user_id="user1").revenue == 10
    assert "user1: 1000 → 10" in response.content.decode()


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
