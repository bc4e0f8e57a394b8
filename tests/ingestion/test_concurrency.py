"""Exactly once under real concurrency: real threads, real connections, PostgreSQL."""

import threading

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from ingestion.models import Batch, Event, UserRevenue
from ingestion.selectors import event_pending_count
from ingestion.services import credential_id, events_process_pending
from tests.concurrency import run_in_threads

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def test_two_processors_draining_the_same_events_equal_the_serial_sum():
    now = timezone.now()
    credential = credential_id(secret="secret")
    events = []
    expected: dict[str, int] = {}
    for i in range(10_000):
        user_id = f"user{i % 37}"
        name, amount = ("add_revenue", i % 101) if i % 3 else ("subtract_revenue", -(i % 53))
        events.append(
            Event(
                user_id=user_id,
                name=name,
                value=abs(amount),
                amount=amount,
                credential=credential,
                received_at=now,
            )
        )
        expected[user_id] = expected.get(user_id, 0) + amount
    Event.objects.bulk_create(events, batch_size=2000)

    processed = run_in_threads(2, lambda _: events_process_pending(limit=250))

    assert sum(processed) == 10_000
    assert min(processed) > 0  # both really took part
    assert dict(UserRevenue.objects.values_list("user_id", "revenue")) == expected
    assert event_pending_count() == 0
    assert sum(Batch.objects.values_list("size", flat=True)) == 10_000


def test_twenty_concurrent_posts_with_one_key_store_one_event():
    body = {"userId": "user1", "name": "add_revenue", "value": 10}

    def post(_: int):
        client = APIClient()
        response = client.post(
            "/liveEvent",
            body,
            format="json",
            HTTP_AUTHORIZATION="secret",
            HTTP_IDEMPOTENCY_KEY="same-key",
        )
        return response.status_code, response.json()

    results = run_in_threads(20, post)

    assert Event.objects.count() == 1
    event_id = str(Event.objects.get().pk)
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 19 + [201]
    assert {body["id"] for _, body in results} == {event_id}
    assert sum(1 for _, body in results if body.get("duplicate")) == 19


def test_processors_running_while_writers_insert_count_every_event_once():
    """Writers and processors at once: no event lands below the watermark unseen."""
    from ingestion.services import event_accept, events_accept_many
    from ingestion.validation import CleanEvent

    writers_done = threading.Event()
    writers_left = {"n": 4}
    lock = threading.Lock()

    def work(index: int) -> int:
        if index < 4:  # writers: single inserts and small batches, interleaved
            for i in range(150):
                event = CleanEvent(user_id=f"u{i % 5}", name="add_revenue", value=i, event_id=None)
                if i % 10:
                    event_accept(credential="c", event=event, idempotency_key=None)
                else:
                    events_accept_many(credential="c", events=[(event, None)] * 5)
            with lock:
                writers_left["n"] -= 1
                if writers_left["n"] == 0:
                    writers_done.set()
            return 0
        processed = 0
        while not writers_done.is_set():
            processed += events_process_pending(limit=40)
        return processed + events_process_pending()

    processed = run_in_threads(6, work)

    expected: dict[str, int] = {}
    for user_id, amount in Event.objects.values_list("user_id", "amount"):
        expected[user_id] = expected.get(user_id, 0) + amount
    assert Event.objects.count() == 4 * (135 + 15 * 5)
    assert sum(processed) == Event.objects.count()
    assert dict(UserRevenue.objects.values_list("user_id", "revenue")) == expected
    assert event_pending_count() == 0
