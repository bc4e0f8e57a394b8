"""Operator pages: search and filters, the failed-deliveries retries, breakers, mock settings."""

import pytest

from tests.webhooks.factories import collection_make
from webhooks.models import CollectionRequest, Delivery, MockProvider, ProviderBreaker
from webhooks.work import work_settle

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/webhooks/faileddelivery/"


def _failed(outside, count: int, *, url: str = "https://callback.example/hook") -> list:
    outside.receiver.script = [(410, {}, "gone")] * count
    outside.mock.add_callback("POST", url, callback=outside.receiver)
    requests = [collection_make(providers=("gas",), callback_url=url) for _ in range(count)]
    work_settle()
    assert Delivery.objects.filter(state="failed").count() >= count
    assert not outside.receiver.script  # each got its 410 (none failed for another reason)
    return requests


def test_requests_are_searched_by_callback_host_and_filtered(outside, driven, admin_client, dns):
    dns["other.example"] = ["93.184.216.35"]
    mine = collection_make(callback_url="https://callback.example/a")
    theirs = collection_make(providers=("internet",), callback_url="https://other.example/b")
    page = admin_client.get("/admin/webhooks/collectionrequest/?q=other.example")
    assert str(theirs.pk) in page.text
    assert str(mine.pk) not in page.text
    page = admin_client.get("/admin/webhooks/collectionrequest/?provider=gas")
    assert str(mine.pk) in page.text
    assert str(theirs.pk) not in page.text


def test_the_detail_page_shows_fetches_delivery_and_attempts_inline(outside, driven, admin_client):
    outside.receiver.script = [(503, {}, "try later")]
    request = collection_make(providers=("gas",))
    work_settle()
    page = admin_client.get(f"/admin/webhooks/collectionrequest/{request.pk}/change/").text
    webhook_id = Delivery.objects.get().webhook_id
    assert webhook_id in page
    assert "try later" in page
    assert "Provider fetch" in page
    assert "Callback delivery" in page


def test_retry_one_selected_failed_delivery(outside, driven, admin_client):
    first, second = _failed(outside, 2)
    delivery = Delivery.objects.get(request=first)
    response = admin_client.post(
        CHANGELIST, {"action": "retry_selected", "_selected_action": [delivery.pk]}
    )
    assert response.status_code == 302
    assert dict(Delivery.objects.values_list("request_id", "state")) == {
        first.pk: "pending",
        second.pk: "failed",
    }
    work_settle()
    assert Delivery.objects.get(pk=delivery.pk).state == "delivered"
    ids = [call.headers["webhook-id"] for call in outside.receiver.calls]
    assert ids.count(delivery.webhook_id) == 2


def test_retry_all_matching_the_filter_confirms_with_the_count(outside, driven, admin_client, dns):
    dns["other.example"] = ["93.184.216.35"]
    _failed(outside, 3)
    _failed(outside, 2, url="https://other.example/x")
    url = "/admin/webhooks/faileddelivery/retry-matching/?q=other.example"
    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    assert "2 failed deliveries match this filter" in confirm.text
    assert Delivery.objects.filter(state="failed").count() == 5
    done = admin_client.post(url, {"confirm": "yes"})
    assert done.status_code == 302
    assert done["Location"] == f"{CHANGELIST}?q=other.example"
    pending = Delivery.objects.filter(state="pending")
    assert set(pending.values_list("request__callback_host", flat=True)) == {"other.example"}
    assert pending.count() == 2
    assert CollectionRequest.objects.filter(status="delivering").count() == 2


def test_the_list_links_to_retry_all_matching(outside, driven, admin_client):
    _failed(outside, 1)
    page = admin_client.get(CHANGELIST + "?q=callback.example").text
    assert "retry-matching/?q=callback.example" in page


def test_breakers_are_shown_and_closed_by_hand(admin_client, driven):
    ProviderBreaker.objects.create(
        provider="gas", state="open", consecutive_failures=9, open_until=driven()
    )
    page = admin_client.get("/admin/webhooks/providerbreaker/")
    assert "Open (calls paused)" in page.text
    admin_client.post(
        "/admin/webhooks/providerbreaker/", {"action": "reset", "_selected_action": ["gas"]}
    )
    breaker = ProviderBreaker.objects.get()
    assert (breaker.state, breaker.consecutive_failures, breaker.open_until) == ("closed", 0, None)


def test_mock_provider_settings_are_edited_in_the_admin(admin_client):
    response = admin_client.post(
        "/admin/webhooks/mockprovider/add/",
        {"name": "gas", "failure_rate": "0.25", "latency_ms": "40"},
    )
    assert response.status_code == 302
    row = MockProvider.objects.get()
    assert (row.name, row.failure_rate, row.latency_ms, row.outage_until) == ("gas", 0.25, 40, None)
