"""The drain task and the schedule's sweep (the django-q2 entry points), on the real clock."""

import dataclasses
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from tests.webhooks.factories import MockProviderFactory, collection_make
from webhooks import work
from webhooks.models import Attempt
from webhooks.schedules import SCHEDULES
from webhooks.tasks import work_sweep_task
from webhooks.work import work_drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def short(settings):
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 0.4
    settings.WEBHOOKS_MAX_BACKOFF = 0.4
    settings.WEBHOOKS_SWEEP_POLL_SECONDS = 0.05
    settings.WEBHOOKS_SWEEP_SECONDS = 30
    return settings


def test_the_drain_waits_for_a_retry_due_in_a_moment_and_ends_when_nothing_is_left(outside, short):
    outside.receiver.script = [500, 500]
    MockProviderFactory()
    request = collection_make(providers=("gas",))
    started = time.monotonic()
    handled = work_drain()
    elapsed = time.monotonic() - started
    request.refresh_from_db()
    assert request.status == "delivered"
    assert handled == 4  # one fetch, three delivery attempts
    waits = [_wait_seconds(a) for a in request.attempts.filter(outcome="retry")]
    # Picked up within a poll of each due time, not on a schedule tick.
    assert elapsed < sum(waits) + 1.0


def _wait_seconds(attempt: Attempt) -> float:
    """How long a retried attempt waited for its next try."""
    assert attempt.next_attempt_at is not None
    return (attempt.next_attempt_at - attempt.finished_at).total_seconds()


def test_the_drain_leaves_work_due_beyond_the_horizon_to_the_schedule(outside, short):
    short.WEBHOOKS_SWEEP_HORIZON_SECONDS = 10
    MockProviderFactory()
    request = collection_make(providers=("gas",))
    request.fetches.update(next_attempt_at=timezone.now() + timedelta(seconds=11))
    started = time.monotonic()
    assert work_drain() == 0
    assert time.monotonic() - started < 1
    request.fetches.update(next_attempt_at=timezone.now() + timedelta(seconds=0.5))
    assert work_drain() == 2  # waited for it: the fetch, then the delivery
    assert outside.provider_calls["gas"] == 1
    assert len(outside.receiver.calls) == 1


@pytest.mark.usefixtures("cache_cleared")
def test_a_drain_keeps_its_lock_alive_a_pass_at_a_time(outside, short, monkeypatch):
    """The in-flight lock lasts a lease, not a drain's whole budget: a drain task that died (a
    worker killed, a restart) blocks the next one for a lease at most, while a live drain that
    runs longer than a lease keeps it."""
    assert work.WORK_BATCHER.lock_seconds == short.WEBHOOKS_LEASE_SECONDS
    batcher = dataclasses.replace(work.WORK_BATCHER, lock_seconds=3)
    monkeypatch.setattr(work, "WORK_BATCHER", batcher)
    MockProviderFactory()
    request = collection_make(providers=("gas",))
    request.fetches.update(next_attempt_at=timezone.now() + timedelta(seconds=5))
    assert cache.add(batcher.lock_key, "1", timeout=batcher.lock_seconds)  # the trigger's
    started = time.monotonic()
    assert work_drain() == 2  # waited 5 s for the fetch, then delivered
    assert time.monotonic() - started > batcher.lock_seconds
    assert cache.get(batcher.lock_key) == "1"  # it would have lapsed after 3 s


def test_the_sweep_runs_a_pass_and_starts_a_drain_when_work_is_due_soon(outside, enqueued, driven):
    MockProviderFactory(failure_rate=1)
    collection_make(providers=("gas",))
    assert work_sweep_task() == 1  # the fetch, failed: its retry is due within seconds
    assert enqueued == [("core.batching.batcher_run_task", "webhooks.work.WORK_BATCHER")]


def test_the_sweep_is_declared_every_minute():
    assert [(s.name, s.func, s.minutes) for s in SCHEDULES] == [
        ("webhooks.sweep", "webhooks.tasks.work_sweep_task", 1)
    ]
