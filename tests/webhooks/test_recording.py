"""Recording a pass's outcomes: the fetches together, then the breakers per provider in call
order (webhooks.recording, decision 0044); a pass's recording costs the same queries however
many outcomes it holds."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.webhooks.factories import collection_make
from webhooks.breaker import breakers_ensure
from webhooks.claims import FetchJob, delivery_claim_due
from webhooks.http import HttpOutcome
from webhooks.models import (
    Attempt,
    BreakerState,
    CollectionRequest,
    Delivery,
    FetchState,
    ProviderBreaker,
    ProviderFetch,
)
from webhooks.recording import breakers_record, fetch_outcomes_store
from webhooks.records import requests_locked
from webhooks.work import outcomes_record

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _answer(status: int | None) -> HttpOutcome:
    data = {"ok": True} if status == 200 else None
    return HttpOutcome(NOW, NOW, status_code=status, error="" if status else "timeout", data=data)


def _results(provider: str, statuses: list[int | None], *, probe: bool = False) -> list:
    job = FetchJob(fetch_id=0, request_id=None, provider=provider, probe=probe)  # type: ignore[arg-type]
    return [(job, _answer(status)) for status in statuses]


def _breaker(provider: str, **fields) -> ProviderBreaker:
    breakers_ensure(providers=[provider])
    ProviderBreaker.objects.filter(provider=provider).update(**fields)
    return ProviderBreaker.objects.get(provider=provider)


def _state(provider: str) -> tuple[str, int]:
    breaker = ProviderBreaker.objects.get(provider=provider)
    return breaker.state, breaker.consecutive_failures


def test_a_success_resets_and_only_the_failures_after_it_count(settings):
    settings.WEBHOOKS_BREAKER_FAILURES = 5
    _breaker("gas", consecutive_failures=4)
    breakers_record(results=_results("gas", [500, 500, 200, 500, None]), now=NOW)
    assert _state("gas") == (BreakerState.CLOSED, 2)


def test_an_answer_under_500_counts_as_the_provider_answering(settings):
    _breaker("gas", consecutive_failures=3)
    breakers_record(results=_results("gas", [500, 404]), now=NOW)
    assert _state("gas") == (BreakerState.CLOSED, 0)


def test_failures_of_one_pass_open_the_breaker_when_they_reach_the_threshold(settings):
    settings.WEBHOOKS_BREAKER_FAILURES = 5
    settings.WEBHOOKS_BREAKER_COOLDOWN_SECONDS = 30
    _breaker("gas", consecutive_failures=2)
    _breaker("internet", consecutive_failures=1)
    results = _results("gas", [500, 500, 500]) + _results("internet", [500, 500, 500])
    breakers_record(results=results, now=NOW)
    gas = ProviderBreaker.objects.get(provider="gas")
    assert (gas.state, gas.consecutive_failures) == (BreakerState.OPEN, 5)
    assert gas.open_until == NOW + timedelta(seconds=30)
    assert _state("internet") == (BreakerState.CLOSED, 4)


def test_a_failed_probe_reopens_and_a_successful_one_closes(settings):
    settings.WEBHOOKS_BREAKER_COOLDOWN_SECONDS = 30
    _breaker("gas", state=BreakerState.HALF_OPEN, probe_until=NOW, consecutive_failures=5)
    breakers_record(results=_results("gas", [503], probe=True), now=NOW)
    gas = ProviderBreaker.objects.get(provider="gas")
    assert (gas.state, gas.open_until, gas.probe_until) == (
        BreakerState.OPEN,
        NOW + timedelta(seconds=30),
        None,
    )
    _breaker("gas", state=BreakerState.HALF_OPEN, open_until=None, probe_until=NOW)
    breakers_record(results=_results("gas", [200], probe=True), now=NOW)
    assert _state("gas") == (BreakerState.CLOSED, 0)


def test_outcomes_of_one_pass_are_stored_together_and_a_finished_fetch_is_skipped(settings):
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 1
    first, second = collection_make(), collection_make()
    fetches = {(f.request_id, f.provider): f for f in ProviderFetch.objects.all()}
    done = fetches[(second.pk, "internet")]
    ProviderFetch.objects.filter(pk=done.pk).update(
        state=FetchState.FETCHED, data={"x": 1}, next_attempt_at=None, fetched_at=NOW
    )

    def job(request, provider: str) -> FetchJob:
        return FetchJob(fetches[(request.pk, provider)].pk, request.pk, provider)

    results = [
        (job(first, "gas"), _answer(200)),
        (job(first, "internet"), _answer(200)),
        (job(second, "gas"), _answer(500)),
        (job(second, "internet"), _answer(200)),  # finished meanwhile by another worker
    ]
    with transaction.atomic():
        requests = requests_locked(job.request_id for job, _ in results)
        recorded, ended = fetch_outcomes_store(results=results, requests=requests, now=NOW)

    assert recorded == results[:3]
    assert [r.pk for r in ended] == [first.pk]
    states = dict(ProviderFetch.objects.values_list("pk", "state"))
    assert states[fetches[(first.pk, "gas")].pk] == FetchState.FETCHED
    assert states[fetches[(second.pk, "gas")].pk] == FetchState.PENDING
    retry = ProviderFetch.objects.get(pk=fetches[(second.pk, "gas")].pk)
    assert (retry.attempts, retry.claimed_until) == (1, None)
    assert retry.next_attempt_at is not None
    assert NOW <= retry.next_attempt_at <= NOW + timedelta(seconds=1)
    attempts = Attempt.objects.order_by("request_id", "provider")
    rows = {(a.request_id, a.provider, a.number, a.outcome) for a in attempts}
    assert rows == {
        (first.pk, "gas", 1, "succeeded"),
        (first.pk, "internet", 1, "succeeded"),
        (second.pk, "gas", 1, "retry"),
    }
    assert ProviderFetch.objects.get(pk=done.pk).attempts == 0


def _fetch_results(requests: int) -> list:
    """A successful answer to every fetch of ``requests`` new requests."""
    made = [collection_make() for _ in range(requests)]
    fetches = ProviderFetch.objects.filter(request__in=made)
    return [(FetchJob(f.pk, f.request_id, f.provider), _answer(200)) for f in fetches]


def _queries_of(results: list) -> int:
    with CaptureQueriesContext(connection) as captured:
        outcomes_record(fetches=results)
    return len(captured)


def test_a_pass_records_its_fetches_in_as_many_queries_for_one_request_as_for_ten(
    django_assert_num_queries,
):
    one = _queries_of(_fetch_results(1))
    results = _fetch_results(10)
    with django_assert_num_queries(one):
        outcomes_record(fetches=results)
    assert Delivery.objects.count() == 11  # each request's delivery, queued by the same pass


def _claimed_deliveries(requests: int) -> list:
    """A successful answer to the delivery of each of ``requests`` new, collected requests."""
    outcomes_record(fetches=_fetch_results(requests))
    jobs = delivery_claim_due(now=timezone.now() + timedelta(seconds=1), limit=100)
    assert len(jobs) == requests
    return [(job, _answer(200)) for job in jobs]


def test_a_pass_records_its_deliveries_in_as_many_queries_for_one_as_for_ten(
    django_assert_num_queries,
):
    results = _claimed_deliveries(1)
    with CaptureQueriesContext(connection) as one:
        outcomes_record(deliveries=results)
    results = _claimed_deliveries(10)
    with django_assert_num_queries(len(one)):
        outcomes_record(deliveries=results)
    assert set(CollectionRequest.objects.values_list("status", flat=True)) == {"delivered"}


def test_outcomes_of_a_request_deleted_meanwhile_are_skipped_and_the_rest_recorded():
    """An operator may delete a request while its calls are in flight: its outcomes have no
    rows left to move on; the pass's other outcomes are recorded as usual."""
    results = _claimed_deliveries(2)  # two collected requests, their deliveries claimed
    kept, deleted = (job.request_id for job, _ in results)
    fetch_results = _fetch_results(1)  # and a third request's fetches
    CollectionRequest.objects.filter(pk=deleted).delete()

    outcomes_record(fetches=fetch_results, deliveries=results)

    statuses = dict(CollectionRequest.objects.values_list("pk", "status"))
    assert statuses.pop(kept) == "delivered"
    assert list(statuses.values()) == ["delivering"]  # the third: collected, its delivery queued
    assert Attempt.objects.filter(request_id=deleted).count() == 0
    assert Attempt.objects.filter(kind="delivery").count() == 1


def test_a_pass_of_both_kinds_is_one_transaction_locking_the_requests_once(
    django_assert_num_queries,
):
    """Deliveries that end and fetches that end their requests, recorded together: one
    savepoint (the test's transaction holds the pass's), the requests locked by one statement,
    then the breakers after it."""
    deliveries = _claimed_deliveries(2)
    fetches = _fetch_results(2)
    requests = CollectionRequest._meta.db_table
    # A savepoint and its release around: the requests locked; the deliveries locked, updated,
    # their requests updated, their attempts inserted; the fetches locked, updated, their
    # attempts inserted; the ended requests' fetches read, their deliveries inserted, the
    # requests updated (13). Then the breakers: a savepoint, one success update per provider,
    # its release (4). SQLite the same (an executemany counts once; no FOR UPDATE).
    with django_assert_num_queries(17) as captured:
        outcomes_record(fetches=fetches, deliveries=deliveries)
    locks = [q["sql"] for q in captured.captured_queries if f'FROM "{requests}" WHERE' in q["sql"]]
    assert len(locks) == 1
    assert set(CollectionRequest.objects.values_list("status", flat=True)) == {
        "delivered",
        "delivering",
    }
