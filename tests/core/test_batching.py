"""The threshold-or-timeout batcher (core.batching), driven through ingestion's batcher: the
threshold fires one task per crossing, the task re-checks, enqueueing never fails a write, and
a long processor keeps its in-flight lock alive without ever taking a free one.

Ingestion's own wiring (its endpoints, its schedule, processing through django-q2) is tested
in tests/ingestion/test_batching.py.
"""

import dataclasses
import time

import pytest
from django.core.cache import cache
from django.db import connection, transaction

from core import batching
from ingestion.models import Event
from ingestion.selectors import event_pending_count
from ingestion.services import EVENTS_BATCHER, credential_id, event_accept
from ingestion.validation import CleanEvent
from tests.ingestion.factories import EventFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_cleared")]


def _accept(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        event = CleanEvent(user_id=f"user{i % 2}", name="add_revenue", value=i, event_id=None)
        event_accept(credential=credential_id(secret="secret"), event=event, idempotency_key=None)


def test_threshold_fires_once_per_crossing(enqueued, settings):
    settings.INGESTION_BATCH_SIZE = 5
    trigger = ("core.batching.batcher_run_task", ("ingestion.services.EVENTS_BATCHER",))

    _accept(4)
    assert enqueued == []
    _accept(1, start=4)
    assert enqueued == [trigger]
    _accept(7, start=5)  # still in flight: no second trigger
    assert enqueued == [trigger]

    assert batching.batcher_run_task("ingestion.services.EVENTS_BATCHER") == 12
    assert enqueued == [trigger]  # nothing pending after the run: no re-trigger
    assert event_pending_count() == 0

    _accept(4, start=12)
    assert enqueued == [trigger]
    _accept(1, start=16)
    assert enqueued == [trigger, trigger]


def test_run_task_re_triggers_when_the_threshold_is_met_again(enqueued, settings, monkeypatch):
    settings.INGESTION_BATCH_SIZE = 2

    def process_and_receive_more() -> int:
        EventFactory.create_batch(3)  # arrive while processing; not in this run
        return 0

    monkeypatch.setattr(batching.Batcher, "run", lambda self: process_and_receive_more())
    batching.batcher_run_task(EVENTS_BATCHER.ref)
    assert len(enqueued) == 1
    assert cache.get(EVENTS_BATCHER.lock_key) == "1"


def test_failed_enqueue_never_fails_the_write(monkeypatch, settings):
    settings.INGESTION_BATCH_SIZE = 1

    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(batching, "async_task", broken)
    _accept(1)
    assert Event.objects.count() == 1
    assert cache.get(EVENTS_BATCHER.lock_key) is None  # released for the next try


def test_lock_refresh_extends_a_held_lock_and_never_takes_a_free_one():
    short = dataclasses.replace(EVENTS_BATCHER, lock_seconds=1)
    refreshing = dataclasses.replace(EVENTS_BATCHER, lock_seconds=60)
    assert cache.add(short.lock_key, "1", timeout=short.lock_seconds)

    assert refreshing.lock_refresh() is True
    time.sleep(1.5)  # past the lock's first expiry
    assert cache.get(EVENTS_BATCHER.lock_key) == "1"

    cache.delete(EVENTS_BATCHER.lock_key)
    assert refreshing.lock_refresh() is False
    assert cache.get(EVENTS_BATCHER.lock_key) is None


def test_notify_without_a_connection_checks_at_once_without_borrowing_one(monkeypatch):
    """A write committed on a connection already given back (core.groupcommit) is followed by
    the check at once; the thread borrows no connection to learn it is in autocommit."""
    checked: list[bool] = []

    def check(self: batching.Batcher) -> bool:
        checked.append(True)
        return False

    monkeypatch.setattr(batching.Batcher, "check", check)
    connection.close()
    assert connection.connection is None

    EVENTS_BATCHER.notify()

    assert checked == [True]
    assert connection.connection is None


def test_notify_inside_a_transaction_checks_after_its_commit(monkeypatch):
    checked: list[bool] = []

    def check(self: batching.Batcher) -> bool:
        checked.append(True)
        return False

    monkeypatch.setattr(batching.Batcher, "check", check)
    with transaction.atomic():
        EVENTS_BATCHER.notify()
        assert checked == []
    assert checked == [True]
