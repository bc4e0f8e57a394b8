"""The drain as in production, several calls of a pass in flight together (the other tests
make them one at a time) and many passes: every request delivered once, complete, and every
call recorded exactly once by its pass."""

import json
import random
import threading
import time
from collections import Counter

import pytest

from tests.webhooks.factories import CALLBACK_URL, collection_make
from webhooks import work
from webhooks.models import Attempt, CollectionRequest, ProviderFetch
from webhooks.providers import payload

pytestmark = pytest.mark.django_db


class Flaky:
    """Providers failing half their calls (seeded) and a callback receiver that records every
    call."""

    def __init__(self) -> None:
        self.rng = random.Random(7)
        self.lock = threading.Lock()
        self.provider_calls: Counter[str] = Counter()
        self.callbacks: list[tuple[str, dict]] = []

    def provider(self, name: str):
        def answer(request):
            with self.lock:
                self.provider_calls[name] += 1
                failed = self.rng.random() < 0.5
            if failed:
                return (500, {"Content-Type": "text/plain"}, b"#fail")
            return (200, {"Content-Type": "application/json"}, payload(name))

        return answer

    def callback(self, request):
        with self.lock:
            self.callbacks.append((request.headers["webhook-id"], json.loads(request.body)))
        return (200, {}, "")


@pytest.fixture
def flaky(webhooks_settings, fake_web):
    outside = Flaky()
    for name, url in webhooks_settings.WEBHOOKS_PROVIDERS.items():
        fake_web.add_callback("GET", url, callback=outside.provider(name))
    fake_web.add_callback("POST", CALLBACK_URL, callback=outside.callback)
    return outside


def test_a_drain_with_calls_on_a_pool_delivers_every_request_once(flaky, settings):
    settings.WEBHOOKS_CONCURRENCY = 4
    settings.WEBHOOKS_CLAIM_BATCH = 6  # many passes, each with calls in flight together
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 0.01
    settings.WEBHOOKS_MAX_BACKOFF = 0.05
    settings.WEBHOOKS_BREAKER_FAILURES = 1000  # 50% failures: no pause in this test
    settings.WEBHOOKS_SWEEP_POLL_SECONDS = 0.01
    requests = {str(collection_make().pk) for _ in range(30)}

    handled = work.work_drain()

    assert set(CollectionRequest.objects.values_list("status", flat=True)) == {"delivered"}
    ids_by_request: dict[str, set[str]] = {}
    for webhook_id, body in flaky.callbacks:
        ids_by_request.setdefault(body["id"], set()).add(webhook_id)
        assert body["status"] == "completed"
        assert body["data"] == {"gas": json.loads(payload("gas")),
                                "internet": json.loads(payload("internet"))}  # fmt: skip
    assert set(ids_by_request) == requests
    assert len(flaky.callbacks) == len(requests)  # the receiver never failed: one call each
    # Every call made is recorded once, and nothing else was: one attempt per claimed job.
    calls = sum(flaky.provider_calls.values()) + len(flaky.callbacks)
    assert handled == calls == Attempt.objects.count()
    assert sum(f.attempts for f in ProviderFetch.objects.all()) == sum(
        flaky.provider_calls.values()
    )
    assert Attempt.objects.filter(kind="fetch", outcome="succeeded").count() == 2 * len(requests)


def test_a_drain_stopped_by_a_failed_recording_still_records_the_pass_in_flight(
    flaky, settings, monkeypatch
):
    """Passes overlap: when recording one pass fails, the next pass's calls are already made.
    Those are recorded before the drain stops; the failed pass's jobs come back when their
    leases lapse, as after any crash."""
    settings.WEBHOOKS_CONCURRENCY = 2
    settings.WEBHOOKS_CLAIM_BATCH = 2  # the first pass: two fetches; the next: two more
    for _ in range(2):
        collection_make()
    real_record = work._record
    recorded: list[set[int]] = []  # the fetches each recording was given

    def record_failing_first(answers):
        recorded.append({job.fetch_id for job, _ in answers})
        if len(recorded) == 1:
            raise RuntimeError("the database went away")
        real_record(answers)

    monkeypatch.setattr(work, "_record", record_failing_first)
    with pytest.raises(RuntimeError, match="went away"):
        work.work_drain()
    failed, in_flight = recorded  # the failed pass, then the one in flight when it failed
    assert len(failed) == len(in_flight) == 2
    assert failed.isdisjoint(in_flight)
    assert sum(flaky.provider_calls.values()) == 4
    attempted = ProviderFetch.objects.filter(attempts=1).values_list("pk", flat=True)
    assert set(attempted) == in_flight  # recorded once each (one attempt row per call)
    assert Attempt.objects.count() == 2
    leased = ProviderFetch.objects.filter(attempts=0, claimed_until__isnull=False)
    assert set(leased.values_list("pk", flat=True)) == failed  # back when the leases lapse


def test_work_due_by_the_look_ahead_is_claimed_again_at_once_not_a_poll_later(
    settings, monkeypatch
):
    """Work can fall due between a pass's claim (nothing due) and its look-ahead (already
    due): the next pass comes a millisecond later, then at doubling pauses while claims keep
    missing, never more than the poll."""
    settings.WEBHOOKS_SWEEP_POLL_SECONDS = 0.2
    look_aheads = iter([-0.003] * 10)  # ten look-aheads find work due that no claim takes
    monkeypatch.setattr(work, "work_next_due_in", lambda: next(look_aheads, None))
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)

    assert work.work_drain() == 0

    assert sleeps == [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.2, 0.2]
