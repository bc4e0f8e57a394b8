"""A collection request read through the API and the admin in every state it can be in."""

import pytest

from tests.webhooks.factories import MockProviderFactory, collection_make
from webhooks.models import Delivery, ProviderBreaker
from webhooks.work import work_run_due, work_settle

pytestmark = pytest.mark.django_db


def _just_accepted(outside, driven):
    return collection_make(), "collecting"


def _collecting_after_a_failure(outside, driven):
    MockProviderFactory(failure_rate=1)
    request = collection_make(providers=("gas",))
    work_run_due()
    assert request.fetches.get().attempts == 1
    return request, "collecting"


def _waiting_on_the_breaker(outside, driven):
    MockProviderFactory(failure_rate=1)
    ProviderBreaker.objects.create(
        provider="gas", state="open", open_until=driven().replace(year=2027)
    )
    request = collection_make(providers=("gas",))
    work_run_due()
    fetch = request.fetches.get()
    assert fetch.next_attempt_at is not None
    assert (fetch.attempts, fetch.next_attempt_at.year) == (0, 2027)
    return request, "collecting"


def _delivering(outside, driven):
    outside.receiver.script = [500]
    MockProviderFactory()
    request = collection_make(providers=("gas",))
    work_run_due()
    work_run_due()
    assert Delivery.objects.get(request=request).attempts == 1
    return request, "delivering"


def _delivered(outside, driven):
    request = collection_make()
    work_settle()
    return request, "delivered"


def _failed_delivery(outside, driven):
    outside.receiver.script = [(410, {}, "")]
    request = collection_make()
    work_settle()
    return request, "failed"


def _failed_collection(outside, driven):
    outside.mock.replace("GET", "http://providers.test/providers/gas", status=400)
    request = collection_make(providers=("gas",))
    work_settle()
    return request, "failed"


def _delivering_after_an_answer_holding_a_nul(outside, driven):
    outside.receiver.script = [(500, {}, "bad\x00answer")]
    MockProviderFactory()
    request = collection_make(providers=("gas",))
    work_run_due()
    work_run_due()
    assert Delivery.objects.get(request=request).last_response == "bad\ufffdanswer"
    return request, "delivering"


def _failed_on_a_provider_json_holding_a_nul(outside, driven):
    gas = "http://providers.test/providers/gas"
    outside.mock.replace("GET", gas, status=200, body=b'{"a": "\\u0000"}')
    request = collection_make(providers=("gas",))
    work_settle()
    assert request.fetches.get().last_error == "JSON with a NUL character"
    return request, "failed"


STATES = {
    "just accepted": _just_accepted,
    "collecting": _collecting_after_a_failure,
    "waiting on the breaker": _waiting_on_the_breaker,
    "delivering": _delivering,
    "delivered": _delivered,
    "failed delivery": _failed_delivery,
    "failed collection": _failed_collection,
    "delivering after an answer holding a NUL": _delivering_after_an_answer_holding_a_nul,
    "failed on a provider's JSON holding a NUL": _failed_on_a_provider_json_holding_a_nul,
}


@pytest.mark.parametrize("state", list(STATES))
def test_every_state_reads_through_the_api_and_the_admin(
    state, outside, driven, api_client, admin_client
):
    request, status = STATES[state](outside, driven)
    response = api_client.get(f"/api/webhooks/collections/{request.pk}")
    assert response.status_code == 200
    assert response.json()["status"] == status
    pages = [
        f"/admin/webhooks/collectionrequest/{request.pk}/change/",
        f"/admin/webhooks/collectionrequest/?status={status}",
        "/admin/webhooks/collectionrequest/?provider=gas",
        "/admin/webhooks/faileddelivery/",
        "/admin/webhooks/providerbreaker/",
        "/admin/webhooks/mockprovider/",
    ]
    for page in pages:
        assert admin_client.get(page).status_code == 200, page
    delivery = Delivery.objects.filter(request=request).first()
    if delivery is not None:
        page = f"/admin/webhooks/faileddelivery/{delivery.pk}/change/"
        expected = 200 if delivery.state == "failed" else 302
        assert admin_client.get(page).status_code == expected
