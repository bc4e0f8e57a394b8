"""Operator commands: retry failed deliveries by filter, show the queue; and the demo data."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.webhooks.factories import collection_make, failed_deliveries_make
from webhooks import services
from webhooks.demo import demo_load
from webhooks.management.commands import webhooks_retry_failed as retry_command
from webhooks.models import CollectionRequest, Delivery, MockProvider, ProviderBreaker
from webhooks.work import work_settle

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def failed_two_hosts(outside, driven, dns):
    dns["other.example"] = ["93.184.216.35"]
    outside.mock.add_callback("POST", "https://other.example/x", callback=outside.receiver)
    outside.receiver.script = [(410, {}, "")] * 3
    collection_make(providers=("gas",))
    collection_make(providers=("internet",))
    collection_make(providers=("gas",), callback_url="https://other.example/x")
    work_settle()
    assert Delivery.objects.filter(state="failed").count() == 3


def test_retry_failed_by_host_and_provider(failed_two_hosts):
    assert run("webhooks_retry_failed", "--host", "other.example", "--dry-run") == (
        "1 failed delivery match (dry run)\n"
    )
    assert Delivery.objects.filter(state="failed").count() == 3
    assert run("webhooks_retry_failed", "--provider", "gas") == "2 failed deliveries queued again\n"
    pending = Delivery.objects.filter(state="pending")
    assert sorted(pending.values_list("request__providers", flat=True)) == [["gas"], ["gas"]]
    assert run("webhooks_retry_failed") == "1 failed delivery queued again\n"


def test_retry_goes_a_chunk_at_a_time_and_says_how_far_it_is(monkeypatch, api_client, admin_client):
    monkeypatch.setattr(services, "RETRY_CHUNK", 2)
    monkeypatch.setattr(retry_command, "RETRY_CHUNK", 2)
    made = failed_deliveries_make(5)
    assert run("webhooks_retry_failed") == (
        "  2 of 5 queued again\n"
        "  4 of 5 queued again\n"
        "  5 of 5 queued again\n"
        "5 failed deliveries queued again\n"
    )
    pending = Delivery.objects.filter(state="pending", attempts=3)
    assert sorted(pending.values_list("webhook_id", flat=True)) == sorted(
        d.webhook_id for d in made
    )
    assert set(CollectionRequest.objects.values_list("status", flat=True)) == {"delivering"}
    # Read back as an operator and a client would, in the state the retry left.
    first = made[0].request_id
    body = api_client.get(f"/api/webhooks/collections/{first}").json()
    assert body["status"] == "delivering"
    page = admin_client.get(f"/admin/webhooks/collectionrequest/{first}/change/")
    assert page.status_code == 200
    assert made[0].webhook_id in page.text


def test_retry_costs_the_same_statements_for_3_as_for_30():
    def retry_queries(count: int) -> int:
        failed_deliveries_make(count)
        with CaptureQueriesContext(connection) as queries:
            assert services.deliveries_retry(deliveries=Delivery.objects.all()) == count
        return len(queries)

    assert retry_queries(3) == retry_queries(30)


def test_a_failed_collection_retried_stays_failed():
    (delivery,) = failed_deliveries_make(1)
    Delivery.objects.filter(pk=delivery.pk).update(body='{"status":"failed","data":{}}')
    assert services.deliveries_retry(deliveries=Delivery.objects.all()) == 1
    assert Delivery.objects.get().state == "pending"
    assert CollectionRequest.objects.get().status == "failed"


def test_retry_failed_refuses_a_bad_time(failed_two_hosts):
    with pytest.raises(CommandError, match="not an ISO 8601 time"):
        run("webhooks_retry_failed", "--since", "yesterday")


def test_queue_shows_due_retrying_failed_and_breakers(outside, driven):
    MockProvider.objects.create(name="gas", failure_rate=1, latency_ms=0)
    collection_make(providers=("gas",))
    collection_make(providers=("internet", "gas"))
    ProviderBreaker.objects.create(provider="internet", consecutive_failures=2)
    assert run("webhooks_queue") == (
        "requests: collecting 2, delivering 0, delivered 0, failed 0\n"
        "fetches: due 3, retrying 0\n"
        "deliveries: due 0, retrying 0, failed 0\n"
        "breaker internet: closed, 2 consecutive failures, open until -\n"
    )


def test_demo_data_is_idempotent():
    out = io.StringIO()
    demo_load(stdout=out)
    demo_load(stdout=out)
    assert out.getvalue().splitlines() == [
        "webhooks: mock providers ready (2 created)",
        "webhooks: mock providers ready (0 created)",
    ]
    assert list(MockProvider.objects.values_list("name", "failure_rate")) == [
        ("gas", 0.5),
        ("internet", 0.5),
    ]
