"""Two sweeps at once, on real threads with their own PostgreSQL connections: every request
delivered, none twice (claims skip rows another sweep holds, and leases keep them)."""

import threading
import time
from collections import Counter

import pytest
from django.db import connection

from tests.webhooks.factories import collection_make
from webhooks import clock
from webhooks.claims import fetch_claim_due
from webhooks.models import Attempt, CollectionRequest, MockProvider, ProviderFetch
from webhooks.work import work_run_due

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def _sweep(stop: threading.Event, errors: list, handled: list) -> None:
    try:
        while not stop.is_set():
            handled.append(work_run_due())
    except Exception as exc:  # surfaced by the test
        errors.append(exc)
    finally:
        connection.close()


def test_two_sweeps_never_deliver_a_request_twice(outside, settings):
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 0.01
    settings.WEBHOOKS_MAX_BACKOFF = 0.05
    settings.WEBHOOKS_CLAIM_BATCH = 5  # small claims: the sweeps interleave often
    settings.WEBHOOKS_BREAKER_FAILURES = 1000  # 50% failures: no pause in this test
    MockProvider.objects.create(name="gas", failure_rate=0.5, latency_ms=0)
    MockProvider.objects.create(name="internet", failure_rate=0.5, latency_ms=0)
    requests = [collection_make() for _ in range(60)]
    stop = threading.Event()
    errors: list[BaseException] = []
    handled: list[int] = []
    threads = [threading.Thread(target=_sweep, args=(stop, errors, handled)) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not errors:
        if not CollectionRequest.objects.exclude(status="delivered").exists():
            break
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(CollectionRequest.objects.values_list("status", flat=True)) == {"delivered"}
    delivered = Counter(call.headers["webhook-id"] for call in outside.receiver.calls)
    assert len(delivered) == len(requests)
    assert set(delivered.values()) == {1}
    assert Attempt.objects.filter(kind="delivery", outcome="succeeded").count() == len(requests)
    # Each fetch succeeded once: no fetch ran twice for the same attempt number.
    assert Attempt.objects.filter(kind="fetch", outcome="succeeded").count() == 2 * len(requests)


def _claim_until_empty(barrier: threading.Barrier, taken: list, errors: list) -> None:
    try:
        barrier.wait()
        while jobs := fetch_claim_due(now=clock.now(), limit=3):
            taken.extend(job.fetch_id for job in jobs)
    except Exception as exc:  # surfaced by the test
        errors.append(exc)
    finally:
        connection.close()


def test_two_claimers_at_once_take_every_due_fetch_once():
    """The claim is one statement (``UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED)``):
    two threads claiming small batches at the same moment split the due fetches between them,
    none taken twice, none left."""
    requests = [collection_make() for _ in range(30)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    taken: list[list[int]] = [[], []]
    threads = [
        threading.Thread(target=_claim_until_empty, args=(barrier, taken[i], errors))
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    every = taken[0] + taken[1]
    assert len(every) == len(set(every)) == 2 * len(requests)
    assert set(every) == set(ProviderFetch.objects.values_list("pk", flat=True))
    assert ProviderFetch.objects.filter(claimed_until__isnull=True).count() == 0
