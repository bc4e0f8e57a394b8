"""The threshold-or-timeout batcher (core.batching) wired to ingestion events."""

import json

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule
from django_q.scheduler import scheduler

from core import batching
from core.schedules import schedules_sync
from ingestion.models import Batch, Event, UserRevenue
from ingestion.selectors import event_pending_count
from ingestion.services import EVENTS_BATCHER

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def enqueued(monkeypatch) -> list:
    """Replace the django-q2 enqueue boundary with a recorder."""
    calls: list = []
    monkeypatch.setattr(
        batching, "async_task", lambda func, *args, **kw: calls.append((func, args))
    )
    return calls


@pytest.fixture
def q_sync(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)


def _post(client, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        body = {"userId": f"user{i % 2}", "name": "add_revenue", "value": i}
        response = client.post("/liveEvent", json.dumps(body), content_type="application/json")
        assert response.status_code == 201


def test_threshold_fires_once_per_crossing(ingest_client, enqueued, settings):
    settings.INGESTION_BATCH_SIZE = 5
    trigger = ("core.batching.batcher_run_task", ("ingestion.services.EVENTS_BATCHER",))

    _post(ingest_client, 4)
    assert enqueued == []
    _post(ingest_client, 1, start=4)
    assert enqueued == [trigger]
    _post(ingest_client, 7, start=5)  # still in flight: no second trigger
    assert enqueued == [trigger]

    assert batching.batcher_run_task("ingestion.services.EVENTS_BATCHER") == 12
    assert enqueued == [trigger]  # nothing pending after the run: no re-trigger
    assert event_pending_count() == 0

    _post(ingest_client, 4, start=12)
    assert enqueued == [trigger]
    _post(ingest_client, 1, start=16)
    assert enqueued == [trigger, trigger]


def test_batch_endpoint_crossing_the_threshold_fires_once(ingest_client, enqueued, settings):
    settings.INGESTION_BATCH_SIZE = 3
    body = [{"userId": "u", "name": "add_revenue", "value": i} for i in range(10)]
    ingest_client.post("/api/ingestion/events", body, format="json")
    ingest_client.post("/api/ingestion/events", body, format="json")
    assert len(enqueued) == 1


def test_run_task_re_triggers_when_the_threshold_is_met_again(enqueued, settings, monkeypatch):
    settings.INGESTION_BATCH_SIZE = 2
    from tests.ingestion.factories import EventFactory

    def process_and_receive_more() -> int:
        EventFactory.create_batch(3)  # arrive while processing; not in this run
        return 0

    monkeypatch.setattr(batching.Batcher, "run", lambda self: process_and_receive_more())
    batching.batcher_run_task(EVENTS_BATCHER.ref)
    assert len(enqueued) == 1
    assert cache.get(EVENTS_BATCHER.lock_key) == "1"


def test_failed_enqueue_never_fails_the_write(ingest_client, monkeypatch, settings):
    settings.INGESTION_BATCH_SIZE = 1

    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(batching, "async_task", broken)
    _post(ingest_client, 1)
    assert Event.objects.count() == 1
    assert cache.get(EVENTS_BATCHER.lock_key) is None  # released for the next try


def test_threshold_trigger_processes_through_django_q(ingest_client, q_sync, settings):
    settings.INGESTION_BATCH_SIZE = 3
    _post(ingest_client, 2)
    assert event_pending_count() == 2
    _post(ingest_client, 1, start=2)

    assert event_pending_count() == 0
    assert dict(UserRevenue.objects.values_list("user_id", "revenue")) == {"user0": 2, "user1": 1}
    assert cache.get(EVENTS_BATCHER.lock_key) is None


def test_timeout_schedule_drains_a_lone_event(ingest_client, q_sync, settings):
    settings.INGESTION_BATCH_SIZE = 500
    _post(ingest_client, 1, start=41)
    assert event_pending_count() == 1

    schedules_sync()
    schedule = Schedule.objects.get(name="ingestion.process_events")
    assert (schedule.func, schedule.minutes) == ("ingestion.tasks.events_process_task", 1)
    Schedule.objects.exclude(pk=schedule.pk).delete()
    Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now())
    scheduler()

    assert event_pending_count() == 0
    assert dict(UserRevenue.objects.values_list("user_id", "revenue")) == {"user1": 41}
    assert Batch.objects.get().size == 1
