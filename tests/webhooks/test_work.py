"""The work engine end to end, with the outside world mocked and the clock driven."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tests.webhooks.factories import MockProviderFactory, collection_make
from webhooks.models import (
    Attempt,
    AttemptOutcome,
    CollectionRequest,
    Delivery,
    DeliveryState,
    FetchState,
    ProviderBreaker,
)
from webhooks.work import work_run_due, work_settle

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "webhooks" / "fixtures"
GAS = json.loads((FIXTURES / "gas.json").read_text())
INTERNET = json.loads((FIXTURES / "internet.json").read_text())


def verified(call, secret: str) -> dict:
    headers = {k: v for k, v in call.headers.items()}
    return Webhook(secret).verify(call.body, headers)


def test_half_the_provider_calls_failing_still_delivers_everything_once(outside, driven, settings):
    requests = [collection_make() for _ in range(30)]
    work_settle()
    assert set(CollectionRequest.objects.values_list("status", flat=True)) == {"delivered"}
    bodies = outside.receiver.bodies()
    assert sorted(b["id"] for b in bodies) == sorted(str(r.pk) for r in requests)
    for body in bodies:
        assert body["status"] == "completed"
        assert body["data"] == {"gas": GAS, "internet": INTERNET}
    ids = [call.headers["webhook-id"] for call in outside.receiver.calls]
    assert len(set(ids)) == 30
    for call in outside.receiver.calls:
        verified(call, settings.WEBHOOKS_SIGNING_SECRET)
    failed = Attempt.objects.filter(kind="fetch", outcome=AttemptOutcome.RETRY).count()
    succeeded = Attempt.objects.filter(kind="fetch", outcome=AttemptOutcome.SUCCEEDED).count()
    assert succeeded == 60
    # Seeded: the mock providers failed this many times out of the calls made, about half.
    assert sum(outside.provider_calls.values()) == succeeded + failed
    assert 0.3 < failed / (succeeded + failed) < 0.7


def test_fetched_data_is_kept_and_never_fetched_again(outside, driven):
    MockProviderFactory()
    MockProviderFactory(name="internet", failure_rate=1)
    request = collection_make()
    for _ in range(5):
        work_run_due()
        driven.advance(3600)
    assert outside.provider_calls["gas"] == 1
    assert outside.provider_calls["internet"] == 5
    fetch = request.fetches.get(provider="gas")
    assert (fetch.state, fetch.data, fetch.attempts) == (FetchState.FETCHED, GAS, 1)


def test_callback_failing_k_times_then_succeeding_keeps_one_webhook_id(outside, driven, settings):
    outside.receiver.script = [500, 502, (503, {}, "busy"), 404]
    MockProviderFactory()
    request = collection_make(providers=("gas",))
    work_settle()
    calls = outside.receiver.calls
    assert len(calls) == 5
    assert len({call.headers["webhook-id"] for call in calls}) == 1
    for call in calls:
        assert verified(call, settings.WEBHOOKS_SIGNING_SECRET) == {
            "id": str(request.pk),
            "status": "completed",
            "data": {"gas": GAS},
        }
    delivery = Delivery.objects.get(request=request)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 5, 200)
    outcomes = list(
        Attempt.objects.filter(kind="delivery").values_list("number", "outcome", "status_code")
    )
    assert outcomes == [
        (1, "retry", 500),
        (2, "retry", 502),
        (3, "retry", 503),
        (4, "retry", 404),
        (5, "succeeded", 200),
    ]
    request.refresh_from_db()
    assert request.status == "delivered"


def test_retry_after_is_honoured_on_429_and_503(outside, driven):
    outside.receiver.script = [(429, {"Retry-After": "120"}, ""), (503, {"Retry-After": "7"}, "")]
    MockProviderFactory()
    request = collection_make(providers=("gas",))
    work_run_due()  # fetch
    work_run_due()  # delivery 1: 429
    delivery = Delivery.objects.get(request=request)
    first = delivery.next_attempt_at
    assert (first - driven()).total_seconds() == 120
    driven.advance(119)
    assert work_run_due() == 0
    driven.advance(1)
    assert work_run_due() == 1  # 503, Retry-After 7
    delivery.refresh_from_db()
    assert (delivery.next_attempt_at - driven()).total_seconds() == 7
    driven.advance(7)
    work_run_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert len(outside.receiver.calls) == 3


def test_410_stops_at_once_and_fails_the_request(outside, driven):
    outside.receiver.script = [(410, {}, "gone for good")]
    MockProviderFactory()
    request = collection_make(providers=("gas",))
    work_settle()
    assert len(outside.receiver.calls) == 1
    delivery = Delivery.objects.get(request=request)
    assert (delivery.state, delivery.last_status_code, delivery.last_response) == (
        "failed",
        410,
        "gone for good",
    )
    request.refresh_from_db()
    assert request.status == "failed"


def test_delivery_window_ends_in_failed_with_the_last_response(outside, driven, settings):
    settings.WEBHOOKS_DELIVERY_WINDOW = 3600
    outside.receiver.script = [(500, {}, "down")] * 1000
    MockProviderFactory()
    request = collection_make(providers=("gas",))
    work_settle()
    delivery = Delivery.objects.get(request=request)
    assert (delivery.state, delivery.last_status_code, delivery.last_response) == (
        "failed",
        500,
        "down",
    )
    last = Attempt.objects.filter(kind="delivery").last()
    assert last is not None
    assert last.outcome == "failed"
    assert "delivery window ended" in last.error
    assert (driven() - delivery.created_at).total_seconds() <= 3600


def test_provider_4xx_is_permanent_and_the_caller_gets_what_was_collected(outside, driven):
    MockProviderFactory()
    outside.mock.replace("GET", "http://providers.test/providers/internet", status=404)
    request = collection_make()
    work_settle()
    fetch = request.fetches.get(provider="internet")
    assert (fetch.state, fetch.attempts, fetch.last_error) == ("failed", 1, "HTTP 404")
    assert outside.receiver.bodies() == [
        {"id": str(request.pk), "status": "failed", "data": {"gas": GAS}}
    ]
    request.refresh_from_db()
    assert request.status == "failed"


def test_collect_deadline_fails_the_request_with_a_failed_callback(outside, driven, settings):
    settings.WEBHOOKS_COLLECT_DEADLINE = 1800
    MockProviderFactory()
    MockProviderFactory(name="internet", failure_rate=1)
    request = collection_make()
    work_settle()
    assert outside.receiver.bodies() == [
        {"id": str(request.pk), "status": "failed", "data": {"gas": GAS}}
    ]
    fetch = request.fetches.get(provider="internet")
    assert fetch.state == "failed"
    assert "collect deadline" in fetch.last_error
    assert (driven() - request.created_at).total_seconds() <= 1800


def test_an_outage_then_recovery_completes_everything_with_calls_bounded_by_the_breaker(
    outside, driven, settings
):
    settings.WEBHOOKS_BREAKER_FAILURES = 5
    settings.WEBHOOKS_BREAKER_COOLDOWN_SECONDS = 30
    settings.WEBHOOKS_MAX_BACKOFF = 60
    outage_seconds = 600
    outage_until = driven() + timedelta(seconds=outage_seconds)
    MockProviderFactory(outage_until=outage_until)
    # A request every 15 s during the outage, work running every second.
    requests = []
    while driven() < outage_until:
        if int((driven() - outage_until).total_seconds()) % 15 == 0:
            requests.append(collection_make(providers=("gas",)))
        work_run_due()
        driven.advance(1)
    during = outside.provider_calls["gas"]
    # Five failures open the breaker; then one probe per cool-down decides. Without it, each
    # of the 40 requests would call at least once, and again at every backoff step.
    assert len(requests) == 40
    assert during <= 5 + outage_seconds // 30 + 1
    assert ProviderBreaker.objects.get(provider="gas").state in ("open", "half_open")
    assert not outside.receiver.calls
    work_settle()
    assert set(CollectionRequest.objects.values_list("status", flat=True)) == {"delivered"}
    assert len(outside.receiver.calls) == len(requests)
    assert ProviderBreaker.objects.get(provider="gas").state == "closed"
    assert outside.provider_calls["gas"] - during == len(requests)


def test_a_provider_removed_from_the_settings_fails_its_fetch_at_once(outside, driven, settings):
    request = collection_make(providers=("gas",))
    settings.WEBHOOKS_PROVIDERS = {"internet": settings.WEBHOOKS_PROVIDERS["internet"]}
    work_settle()
    fetch = request.fetches.get()
    assert (fetch.state, fetch.attempts) == ("failed", 1)
    assert outside.provider_calls == {}
    assert outside.receiver.bodies() == [{"id": str(request.pk), "status": "failed", "data": {}}]


def test_a_nul_in_an_answer_is_recorded_as_a_replacement_character(outside, driven):
    # PostgreSQL's text columns cannot hold NUL: an answer carrying one must not make its
    # pass's recording fail (every outcome of that pass would be lost and the calls made again).
    outside.receiver.script = [(500, {}, "bad\x00answer")]
    MockProviderFactory()
    request = collection_make(providers=("gas",))
    work_settle()
    delivery = Attempt.objects.get(request=request, kind="delivery", number=1)
    assert (delivery.status_code, delivery.response_excerpt) == (500, "bad\ufffdanswer")
    request.refresh_from_db()
    assert request.status == "delivered"


def test_a_provider_json_holding_a_nul_fails_that_fetch_alone(outside, driven):
    # PostgreSQL's jsonb refuses NUL: such data is refused as the fetch's outcome, not stored.
    outside.mock.replace(
        "GET", "http://providers.test/providers/gas", status=200, body=b'{"a": ["x\\u0000"]}'
    )
    MockProviderFactory(name="internet")
    request = collection_make()
    work_settle()
    fetch = request.fetches.get(provider="gas")
    assert (fetch.state, fetch.data, fetch.last_error) == (
        FetchState.FAILED,
        None,
        "JSON with a NUL character",
    )
    request.refresh_from_db()
    assert request.status == "failed"
    [body] = outside.receiver.bodies()
    assert (body["status"], body["data"]) == ("failed", {"internet": INTERNET})
