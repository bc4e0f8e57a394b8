"""Ingestion wired to the batcher: its endpoints notify it, its processing runs through
django-q2, its schedule drains a lone event (the batcher itself: tests/core/test_batching.py)."""

import json

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule
from django_q.scheduler import scheduler

from core.schedules import schedules_sync
from ingestion.models import Batch, UserRevenue
from ingestion.selectors import event_pending_count
from ingestion.services import EVENTS_BATCHER

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cache_cleared")]


@pytest.fixture
def q_sync(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)


def _post(client, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        body = {"userId": f"user{i % 2}", "name": "add_revenue", "value": i}
        response = client.post("/liveEvent", json.dumps(body), content_type="application/json")
        assert response.status_code == 201


def test_batch_endpoint_crossing_the_threshold_fires_once(ingest_client, enqueued, settings):
    settings.INGESTION_BATCH_SIZE = 3
    body = [{"userId": "u", "name": "add_revenue", "value": i} for i in range(10)]
    ingest_client.post("/api/ingestion/events", body, format="json")
    ingest_client.post("/api/ingestion/events", body, format="json")
    assert len(enqueued) == 1


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
