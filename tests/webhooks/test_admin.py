"""Operator pages: search and filters, the failed-deliveries retries, breakers, mock settings."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest

from tests.admin_checks import assert_constant_queries, assert_read_only, messages_of
from tests.webhooks.factories import collection_make, failed_deliveries_make
from webhooks import clock
from webhooks.models import (
    CollectionRequest,
    Delivery,
    FailedDelivery,
    MockProvider,
    ProviderBreaker,
)
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


def test_the_provider_filter_lists_each_provider_once(outside, driven, admin_client):
    for _ in range(3):
        collection_make(providers=("gas", "internet"))
        clock.clock_advance(seconds=1)  # requests of different times
    page = admin_client.get("/admin/webhooks/collectionrequest/").text
    # One choice per provider, however many requests and fetches there are (the choices once
    # came from the fetches in their list order: one per fetch).
    assert page.count('href="?provider=gas"') == 1
    assert page.count('href="?provider=internet"') == 1
    failed_deliveries_make(2, provider="gas")
    page = admin_client.get(CHANGELIST).text
    assert page.count('href="?request__fetches__provider=gas"') == 1
    assert page.count('href="?request__fetches__provider=internet"') == 1


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
    assert messages_of(response) == ["Queued 1 delivery for retry"]
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
    assert messages_of(done) == ["Queued 2 deliveries for retry"]
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
    response = admin_client.post(
        "/admin/webhooks/providerbreaker/", {"action": "reset", "_selected_action": ["gas"]}
    )
    assert messages_of(response) == ["Closed 1 breaker"]
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


def test_retry_all_matching_follows_the_list_filters(admin_client, driven):
    gas = failed_deliveries_make(3, provider="gas")
    internet = failed_deliveries_make(2, provider="internet")
    old = failed_deliveries_make(1, provider="gas", created_at=driven() - timedelta(days=30))
    since = (driven() - timedelta(days=1)).isoformat()
    query = "?" + urlencode({"created_at__gte": since, "request__fetches__provider": "gas"})
    listed = admin_client.get(CHANGELIST + query)
    assert {d.pk for d in listed.context["cl"].result_list} == {d.pk for d in gas}
    assert f"retry-matching/{query}" in listed.text.replace("&amp;", "&")
    url = CHANGELIST + "retry-matching/" + query
    assert "3 failed deliveries match this filter" in admin_client.get(url).text
    done = admin_client.post(url, {"confirm": "yes"})
    assert messages_of(done) == ["Queued 3 deliveries for retry"]
    states = dict(Delivery.objects.values_list("pk", "state"))
    assert states == {
        **{d.pk: "pending" for d in gas},
        **{d.pk: "failed" for d in [*internet, *old]},
    }
    assert "0 failed deliveries match this filter" in admin_client.get(url).text


def test_retry_all_matching_needs_the_change_permission(client, django_user_model):
    failed_deliveries_make(1)
    viewer = django_user_model.objects.create_user("viewer", password=None, is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_faileddelivery"))
    client.force_login(viewer)
    assert client.get(CHANGELIST).status_code == 200
    assert "retry_selected" not in client.get(CHANGELIST).text
    url = CHANGELIST + "retry-matching/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"confirm": "yes"}).status_code == 403
    assert Delivery.objects.get().state == "failed"


def test_work_rows_and_breakers_are_read_only(admin_client, driven):
    delivery = failed_deliveries_make(1)[0]
    breaker = ProviderBreaker.objects.create(provider="gas", state="closed")
    for obj in (delivery.request, FailedDelivery.objects.get(pk=delivery.pk), breaker):
        assert_read_only(admin_client, obj)
    assert Delivery.objects.get().state == "failed"


def test_the_request_page_still_shows_its_work_inline(admin_client, driven):
    delivery = failed_deliveries_make(1)[0]
    page = admin_client.get(f"/admin/webhooks/collectionrequest/{delivery.request_id}/change/")
    assert delivery.webhook_id in page.text
    assert "Provider fetch" in page.text


def _breakers(count: int) -> None:
    start = ProviderBreaker.objects.count()
    for i in range(start, start + count):
        ProviderBreaker.objects.create(provider=f"p{i}", state="closed")


def _mocks(count: int) -> None:
    start = MockProvider.objects.count()
    for i in range(start, start + count):
        MockProvider.objects.create(name=f"m{i}", failure_rate=0.1)


@pytest.mark.parametrize(
    ("model", "make"),
    [
        ("collectionrequest", failed_deliveries_make),
        ("faileddelivery", failed_deliveries_make),
        ("providerbreaker", _breakers),
        ("mockprovider", _mocks),
    ],
)
def test_changelists_cost_the_same_queries_for_1_and_20_rows(
    admin_client, django_assert_num_queries, driven, model, make
):
    url = f"/admin/webhooks/{model}/"
    assert_constant_queries(admin_client, url, make, django_assert_num_queries)
